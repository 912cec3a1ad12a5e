"""Well-known public PyTorch programs run unchanged on ember (issue 13's "done when").

Each file beside this one renders one program (pytorch/examples mnist, vae, dcgan, word_language_model,
reinforcement_learning, time_sequence_prediction, regression, mnist_rnn, super_resolution, fast_neural_style;
the char-RNN classification, seq2seq translation and "Learning PyTorch with Examples" tutorials; pygcn) as
`main(torch, ...)`, the library passed in, so the same
source runs as `import ember as torch` and as PyTorch. Here each runs on ember and its results are checked
against what the program itself implies (and a few values pinned from PyTorch, so the test can fail without
it); where PyTorch is installed, the same program runs on it with the same seed and the results are compared:
ember's random streams (weights, dropout masks, shuffles, Categorical samples) equal PyTorch's, so losses agree
to float rounding; strings, shapes, dtypes and discrete outcomes agree exactly."""
import importlib.util
import io
import math
import os
import warnings

import pytest

import ember

HERE = os.path.dirname(os.path.abspath(__file__))

# (program, argv): each case is one run of the program
CASES = [
    ("mnist", ()),
    ("vae", ()),
    ("dcgan", ()),
    ("word_language_model", ()),
    ("word_language_model", ("--tied",)),
    ("word_language_model", ("--model", "GRU")),
    ("word_language_model", ("--model", "RNN_TANH")),
    ("word_language_model", ("--model", "Transformer")),
    ("reinforcement_learning", ()),
    ("char_rnn_classification", ()),
    ("seq2seq_translation", ()),
    ("time_sequence_prediction", ()),
    ("gcn", ()),
    ("learning_pytorch_with_examples", ()),
    ("regression", ()),
    ("mnist_rnn", ()),
    ("super_resolution", ()),
    ("fast_neural_style", ()),
]
IDS = [" ".join((name,) + argv) for name, argv in CASES]

# relative and absolute tolerance of the float results against PyTorch's (training loops compound rounding)
TOLERANCE = {"word_language_model": (1e-3, 1e-5), "learning_pytorch_with_examples": (1e-4, 1e-6),
             "fast_neural_style": (1e-3, 1e-5)}
DEFAULT_TOLERANCE = (1e-4, 1e-5)
# results compared by type only: fast_neural_style's first Adam step moves every weight by +-lr whatever its
# gradient's size, so float32 rounding in the near-zero gradients (5e-4 of the largest) picks the sign of
# some steps; the stylized image after training differs by about 1% between the libraries
LOOSE = {"fast_neural_style": {"stylized_mean"}}

_modules = {}
_ember_results = {}
_torch_results = {}


@pytest.fixture(autouse=True)
def _restore_backend_flags():
    """Programs set global flags as their originals do (dcgan: cudnn.benchmark = True); later tests see the
    defaults again."""
    import sys
    libs = [ember] + ([sys.modules["torch"]] if "torch" in sys.modules else [])
    saved = [(m.backends.cudnn, m.backends.cudnn.benchmark, m.backends.cudnn.deterministic) for m in libs]
    yield
    for cudnn, benchmark, deterministic in saved:
        cudnn.benchmark, cudnn.deterministic = benchmark, deterministic


def load(name):
    if name not in _modules:
        spec = importlib.util.spec_from_file_location(f"public_program_{name}", os.path.join(HERE, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[name] = module
    return _modules[name]


# what the programs warn (the first 80 characters), the same in both libraries; the others warn nothing
EXPECTED_WARNINGS = {"gcn": ["UserWarning: torch.sparse.SparseTensor(indices, values, shape, *, device=) is "
                             "deprecated.  Pl"]}
# PyTorch's TransformerEncoder warns that its nested-tensor fast path is off; ember has no such path
TORCH_ONLY_WARNINGS = ("enable_nested_tensor is True, but self.use_nested_tensor is False",)


def run(name, argv, lib):
    """The program's results, plus "_warnings": what it warned, which must be the same in both libraries."""
    main = load(name).main
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)      # the programs' own unclosed files
        warnings.simplefilter("ignore", DeprecationWarning)
        # ember's Note [silent floating point] filter, as `import ember` installs it for a user: the conftest
        # imports ember inside pytest's collection-time catch_warnings, which drops the filter again
        warnings.filterwarnings("ignore", r"(divide by zero|invalid value|overflow|underflow) encountered",
                                RuntimeWarning, r"ember(\.|$)")
        result = main(lib, argv) if argv else main(lib)
    said = {f"{w.category.__name__}: {str(w.message).split(chr(39))[0][:80]}" for w in caught
            if not any(known in str(w.message) for known in TORCH_ONLY_WARNINGS)}
    return dict(result, _warnings=sorted(said))


def ember_result(name, argv):
    key = (name, argv)
    if key not in _ember_results:
        _ember_results[key] = run(name, argv, ember)
    return _ember_results[key]


def torch_result(torch, name, argv):
    key = (name, argv)
    if key not in _torch_results:
        _torch_results[key] = run(name, argv, torch)
    return _torch_results[key]


def close(a, b, rtol=1e-4, atol=1e-5):
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)


def assert_same(mine, theirs, rtol, atol, where="result"):
    """Floats to tolerance; everything else (ints, bools, strings, shapes) exactly, library names aside."""
    if isinstance(mine, dict):
        assert list(mine) == list(theirs), where
        for key in mine:
            assert_same(mine[key], theirs[key], rtol, atol, f"{where}[{key!r}]")
    elif isinstance(mine, (list, tuple)):
        assert type(mine) is type(theirs) and len(mine) == len(theirs), f"{where}: {mine} vs {theirs}"
        for i, (a, b) in enumerate(zip(mine, theirs)):
            assert_same(a, b, rtol, atol, f"{where}[{i}]")
    elif isinstance(mine, float) and not isinstance(theirs, bool):
        assert isinstance(theirs, (float, int)), f"{where}: {mine!r} vs {theirs!r}"
        assert close(mine, theirs, rtol, atol), f"{where}: ember {mine!r} vs torch {theirs!r}"
    elif isinstance(mine, str):
        assert mine.replace("ember.", "torch.") == theirs, f"{where}: {mine!r} vs {theirs!r}"
    elif isinstance(mine, bytes):
        pass                                        # checkpoints: read back across libraries below
    else:
        assert type(mine) is type(theirs) and mine == theirs, f"{where}: {mine!r} vs {theirs!r}"


# ---- what each program's own output implies (no PyTorch needed) --------------------------------------------

def check_mnist(r, argv):
    assert len(r["train_loss"]) == 4 and all(math.isfinite(x) for x in r["train_loss"])
    assert close(r["train_loss"][0], 2.3060317)              # PyTorch 2.13's first loss for the same seed
    assert r["lr"] == pytest.approx([0.7, 0.49])              # StepLR(step_size=1, gamma=0.7)
    assert all(isinstance(c, int) and 0 <= c <= 8 for c in r["correct"])
    keys = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
            "fc2.weight", "fc2.bias"]
    assert r["state_keys"] == keys
    state = ember.load(io.BytesIO(r["checkpoint"]))
    assert list(state) == keys and tuple(state["fc1.weight"].shape) == (128, 9216)
    assert close(state["fc1.weight"].sum().item(), r["fc1_weight_sum"])


def check_vae(r, argv):
    assert len(r["batch_loss"]) == 6 and close(r["batch_loss"][0], 549.33215)
    assert r["epoch_loss"][1] < r["epoch_loss"][0]
    assert r["images"] == [((16, 1, 28, 28), "ember.float32"), ((64, 1, 28, 28), "ember.float32")] * 2
    assert 0 < r["sample_mean"] < 1                         # decoder ends in a sigmoid


def check_dcgan(r, argv):
    assert close(r["errD"][0], 1.4908277) and close(r["errG"][0], 0.77075386)
    assert all(0 < p < 1 for key in ("D_x", "D_G_z1", "D_G_z2") for p in r[key])
    assert r["fake_shape"] == (4, 3, 64, 64)
    assert r["netG"].startswith("Generator(\n  (main): Sequential(\n    (0): ConvTranspose2d(16, 32, "
                                "kernel_size=(4, 4), stride=(1, 1), bias=False)\n    (1): BatchNorm2d(32, eps=1e-05")
    assert "(12): Sigmoid()" in r["netD"] and "(1): LeakyReLU(negative_slope=0.2, inplace=True)" in r["netD"]
    assert r["netD_keys"][:7] == ["main.0.weight", "main.2.weight", "main.3.weight", "main.3.bias",
                                  "main.3.running_mean", "main.3.running_var", "main.3.num_batches_tracked"]
    assert r["num_batches_tracked"] == 6                     # 2 batches, D runs 3 times per batch
    assert len(r["running_var"]) == 8


def check_word_language_model(r, argv):
    assert len(r["batch_loss"]) == 10 and all(math.isfinite(x) for x in r["batch_loss"])
    first = {(): 2.5642686, ("--tied",): 2.5645077, ("--model", "GRU"): 2.5754812,
             ("--model", "RNN_TANH"): 2.5643039, ("--model", "Transformer"): 2.6003911}[argv]
    assert close(r["batch_loss"][0], first)
    assert r["tied"] == (argv == ("--tied",))
    assert len(r["generated"].split()) == 12
    assert close(r["test_ppl"], math.exp(r["test_loss"]))
    # the learning rate is quartered exactly when the validation loss did not improve
    assert r["lr"][1] == (20 if r["val_loss"][1] < r["val_loss"][0] else 5.0)


def check_reinforcement_learning(r, argv):
    for prefix in ("reinforce_", "actor_critic_"):
        running = 10
        for ep_reward, logged in zip(r[prefix + "ep_reward"], r[prefix + "running_reward"]):
            assert ep_reward == int(ep_reward) and 1 <= ep_reward <= 40
            running = 0.05 * ep_reward + (1 - 0.05) * running
            assert close(logged, running)
    assert r["reinforce_ep_reward"] == [13.0, 15.0, 15.0, 16.0, 17.0, 15.0]    # PyTorch's for seed 543
    assert r["actor_critic_ep_reward"] == [26.0, 13.0, 9.0, 12.0, 9.0, 10.0]
    assert close(r["actor_critic_loss"][0], 10.598385, rtol=1e-5)


def check_char_rnn_classification(r, argv):
    assert r["original_letter_J"] == [[0, 35]]               # one-hot: "J" is all_letters[35]
    assert r["original_Jones_size"] == (5, 1, 57) and r["original_print_Jones_size"] == "ember.Size([5, 1, 57])"
    assert r["original_print_output"] == ("tensor([[-1.6199, -1.5994, -1.5891, -1.6919, -1.5522]],\n"
                                          "       grad_fn=<LogSoftmaxBackward0>)")
    assert r["current_print_rnn"] == ("CharRNN(\n  (rnn): RNN(57, 128)\n"
                                      "  (h2o): Linear(in_features=128, out_features=5, bias=True)\n"
                                      "  (softmax): LogSoftmax(dim=1)\n)")
    assert math.fsum(math.exp(v) for v in r["original_first_output"]) == pytest.approx(1, abs=1e-6)
    assert close(r["original_first_output"][0], -1.6199242)
    assert r["original_predict_values"] == sorted(r["original_predict_values"], reverse=True)
    assert len(set(r["original_predict_Satoshi"])) == 3
    assert all(0 <= v <= 1 for v in r["original_confusion_diag"])
    assert r["current_split"] == [34, 6] and r["current_test_indices"] == [25, 26, 9, 21, 20, 15]
    assert r["current_all_losses"][-1] < r["current_all_losses"][0]
    assert r["current_rnn_keys"] == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                                     "h2o.weight", "h2o.bias"]


def check_seq2seq_translation(r, argv):
    assert len(r["one_plot_losses"]) == 6 and close(r["one_plot_losses"][0], 2.6612924)
    assert r["one_teacher_forced"][:8] == [True, False, True, False, True, False, True, False]   # random.seed(0)
    assert r["one_n_words"] == [17, 16]
    rows = len(r["one_output_words"])
    assert r["one_attentions_shape"] == (rows, 10) and r["one_output_words"][-1] == "<EOS>"
    assert r["one_attention_row_sums"] == pytest.approx([1.0] * rows, abs=1e-6)
    # the batched version: padded to MAX_LENGTH with index 0; attention over "je suis grand" and EOS
    losses = r["batched_epoch_losses"]
    assert close(losses[0], 2.5046513) and all(b < a for a, b in zip(losses, losses[1:]))
    assert r["batched_attentions_shape"] == (1, 10, 4) and len(r["batched_output_words"]) == 10
    assert r["batched_attention_row_sums"] == pytest.approx([1.0] * 10, abs=1e-6)


def check_time_sequence_prediction(r, argv):
    assert r["default_load_refused"] is True                 # a NumPy array needs weights_only=False
    assert 2 <= len(r["closure_loss"]) <= 8 and close(r["closure_loss"][0], 0.63362283, rtol=1e-7)
    assert r["test_loss"][-1] < r["test_loss"][0]
    assert r["y_shape"] == (3, 44) and r["y_dtype"] == "float64" and r["pred_dtype"] == "float64"


def check_gcn(r, argv):
    assert r["repr"] == "GraphConvolution (24 -> 16)"
    assert r["adj_is_sparse"] is True and r["adj_nnz"] == 290
    assert close(r["loss_train"][0], 1.2461452) and r["loss_train"][-1] < r["loss_train"][0]
    assert all(v * 20 == round(v * 20) for v in r["acc_train"] + r["acc_val"])   # 20 nodes per split
    assert r["acc_dtype"] == "float64"                       # preds.eq(labels).double()
    assert r["sparse_mm_matches_spmm"] is True and r["sparse_mm_matches_dense"] is True


def check_learning_pytorch_with_examples(r, argv):
    # the same seed and the same polynomial: hand-written gradients, autograd and nn.Parameter agree
    for key in ("autograd_losses", "module_losses"):
        assert r[key] == pytest.approx(r["tensors_losses"], rel=1e-5)
    assert r["autograd_coef"] == pytest.approx(r["tensors_coef"], rel=1e-5)
    assert close(r["tensors_losses"][0], 10262.48, rtol=1e-6)
    for key in ("tensors_losses", "function_losses", "nn_losses", "optim_losses", "module_losses"):
        assert all(b < a for a, b in zip(r[key], r[key][1:])), key
    assert r["function_grad_fn"] == "AddBackward0" and r["module_string"] is True
    assert r["function_coef"][0] == pytest.approx(0, abs=1e-6)   # the fit of an odd function stays odd
    assert len(r["dynamic_coef"]) == 5 and all(math.isfinite(x) for x in r["dynamic_losses"])


def check_regression(r, argv):
    assert r["batches"] == 200 and close(r["losses"][0], 11.649759)
    assert r["loss"] < r["losses"][0] / 2                  # 200 steps of SGD on smooth_l1_loss
    assert r["actual"] == "==> Actual function:\ty = +7.70 x^1 -1.47 x^2 -10.89 x^3 +2.84 x^4 -5.42"
    assert r["learned"].startswith("==> Learned function:\ty = +") and r["learned"].count("x^") == 4


def check_mnist_rnn(r, argv):
    assert len(r["train_loss"]) == 6 and close(r["train_loss"][0], 2.2811985)
    assert r["warnings"] == ["dropout2d: Received a 2-D input to dropout2d"]
    assert "batchnorm.num_batches_tracked" in r["state_keys"] and r["state_keys"][0] == "rnn.weight_ih_l0"
    assert all(isinstance(c, int) for c in r["correct"])


def check_super_resolution(r, argv):
    assert close(r["epoch_loss"][0], 0.66996685) and r["epoch_loss"][1] < r["epoch_loss"][0]
    assert r["orthogonal_gram"] == pytest.approx([1.0] * 9, abs=1e-5)      # orthogonal_ rows are orthonormal
    assert all(math.isfinite(p) for p in r["avg_psnr"])
    assert "Can't pickle local object" in r["whole_model_error"]    # Python's own error, as torch.save's
    assert r["loaded_type"] == "Net" and r["out_shape"] == (1, 1, 12, 12) and r["out_requires_grad"] is True


def check_fast_neural_style(r, argv):
    assert close(r["content_loss"][0], 5330.688, rtol=1e-5) and close(r["style_loss"][0], 19099575, rtol=1e-5)
    assert r["total_loss"] == pytest.approx([c + s for c, s in zip(r["content_loss"], r["style_loss"])])
    assert r["stylized_shape"] == (8, 8, 3) and r["n_state"] == 62 and r["requires_grad"] == [False, False]
    assert math.isfinite(r["stylized_mean"])


@pytest.mark.parametrize("name, argv", CASES, ids=IDS)
def test_program_runs_on_ember(name, argv):
    result = ember_result(name, argv)
    globals()[f"check_{name}"](result, argv)
    assert result["_warnings"] == EXPECTED_WARNINGS.get(name, [])


@pytest.mark.parametrize("name, argv", CASES, ids=IDS)
def test_program_matches_pytorch(name, argv, torch):
    mine = ember_result(name, argv)
    theirs = torch_result(torch, name, argv)
    rtol, atol = TOLERANCE.get(name, DEFAULT_TOLERANCE)
    for key in LOOSE.get(name, ()):
        assert type(mine[key]) is type(theirs[key])
        mine, theirs = {k: v for k, v in mine.items() if k != key}, {k: v for k, v in theirs.items() if k != key}
    assert_same(mine, theirs, rtol, atol)


def test_checkpoints_cross_libraries(torch):
    """mnist's state_dict file written by ember loads in PyTorch (weights_only) and the other way round."""
    mine = ember_result("mnist", ())
    theirs = torch_result(torch, "mnist", ())
    from_ember = torch.load(io.BytesIO(mine["checkpoint"]), weights_only=True)
    from_torch = ember.load(io.BytesIO(theirs["checkpoint"]))
    assert list(from_ember) == list(from_torch) == mine["state_keys"]
    for key in from_ember:
        assert from_ember[key].dtype == torch.float32 and from_torch[key].dtype == ember.float32
        assert torch.allclose(from_ember[key], torch.from_numpy(from_torch[key].numpy()), rtol=1e-4, atol=1e-5)


def test_deprecated_sparse_constructor_warns_as_pytorch():
    """pygcn's torch.sparse.FloatTensor(indices, values, size) works and says it is deprecated."""
    with pytest.warns(UserWarning, match="deprecated"):
        adj = ember.sparse.FloatTensor(ember.tensor([[0, 1], [1, 0]]), ember.tensor([1.0, 2.0]), ember.Size([2, 2]))
    assert adj.is_sparse and adj.to_dense().tolist() == [[0.0, 1.0], [2.0, 0.0]]
