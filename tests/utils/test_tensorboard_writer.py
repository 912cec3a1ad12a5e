"""ember.utils.tensorboard.SummaryWriter: every add_* call is written by ember's writer and by PyTorch's, both
event files are read back with tensorboard's own EventAccumulator, and what TensorBoard would show is compared
(tags, steps, values, histogram buckets, PNG/WAV bytes, text, hparams plugin data, embedding files); the
graph of add_graph is checked on its own (PyTorch writes a TorchScript trace, ember the autograd graph) and
against PyTorch's input/output names and module scopes. Without tensorboard everything here skips, except
the check that importing the module fails as PyTorch's does."""
import glob
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import nn

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tb():
    pytest.importorskip("tensorboard")
    from ember.utils import tensorboard
    return tensorboard


def _accumulator(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    everything = {"scalars": 0, "images": 0, "audio": 0, "histograms": 0, "tensors": 0}
    acc = EventAccumulator(str(logdir), size_guidance=everything)
    acc.Reload()
    return acc


def _write_both(torch, tmp_path, tb, calls):
    """Run calls(writer, lib) with ember's writer and PyTorch's (when there); their accumulators."""
    with tb.SummaryWriter(tmp_path / "ember") as writer:
        calls(writer, ember)
    ours = _accumulator(tmp_path / "ember")
    if torch is None:
        return ours, None
    from torch.utils.tensorboard import SummaryWriter
    with SummaryWriter(tmp_path / "torch") as writer:
        calls(writer, torch)
    return ours, _accumulator(tmp_path / "torch")


@pytest.fixture
def torch_or_none():
    try:
        import torch
        import torch.utils.tensorboard  # noqa: F401
        return torch
    except ImportError:
        return None


def _data(seed, shape, dtype="float32"):
    return np.random.default_rng(seed).random(shape).astype(dtype)


# --- scalars -------------------------------------------------------------------------------------------------

def test_scalars(tb, torch_or_none, tmp_path):
    def calls(w, lib):
        for step in range(3):
            w.add_scalar("loss", lib.tensor(0.25 * step), step)
            w.add_scalar("python", 1.5 + step, step)
        w.add_scalar("numpy", np.float64(2.5), 7)
        w.add_scalar("new", lib.tensor([3.25]), 1, new_style=True)
        w.add_scalar("double", 1 / 3, 1, new_style=True, double_precision=True)
        w.add_scalars("run/main", {"a": 1.0, "b": lib.tensor(2.0)}, 4)

    ours, theirs = _write_both(torch_or_none, tmp_path, tb, calls)
    assert [(s.step, s.value) for s in ours.Scalars("loss")] == [(0, 0.0), (1, 0.25), (2, 0.5)]
    assert [(s.step, s.value) for s in ours.Scalars("python")] == [(0, 1.5), (1, 2.5), (2, 3.5)]
    assert ours.Tensors("new")[0].tensor_proto.float_val == [3.25]
    assert ours.Tensors("double")[0].tensor_proto.double_val == [1 / 3]
    for run in ("run_main_a", "run_main_b"):                     # one run per tag, the chart under main_tag
        sub = _accumulator(tmp_path / "ember" / run)
        assert [(s.step, s.value) for s in sub.Scalars("run/main")] == [(4, 1.0 if run.endswith("a") else 2.0)]
    if theirs is not None:
        assert ours.Tags() == theirs.Tags()
        for tag in ours.Tags()["scalars"]:
            assert [(s.step, s.value) for s in ours.Scalars(tag)] == [(s.step, s.value) for s in theirs.Scalars(tag)]
        for tag in ours.Tags()["tensors"]:
            assert ours.Tensors(tag)[0].tensor_proto == theirs.Tensors(tag)[0].tensor_proto
        assert {p.name for p in (tmp_path / "ember").iterdir() if p.is_dir()} == \
            {p.name for p in (tmp_path / "torch").iterdir() if p.is_dir()}


def test_scalar_of_several_elements_is_refused(tb, tmp_path):
    with tb.SummaryWriter(tmp_path) as w, pytest.raises(AssertionError, match="Tensor should contain one element"):
        w.add_scalar("x", ember.tensor([1.0, 2.0]))


# --- histograms ----------------------------------------------------------------------------------------------

def test_histograms(tb, torch_or_none, tmp_path):
    values = np.random.default_rng(0).standard_normal(1000).astype(np.float32)

    def calls(w, lib):
        w.add_histogram("tensorflow", lib.tensor(values), 1)
        w.add_histogram("auto", lib.tensor(values), 2, bins="auto")
        w.add_histogram("ten", values, 3, bins=10)
        w.add_histogram("merged", lib.tensor(values), 4, bins=10, max_bins=3)
        w.add_histogram("ints", lib.tensor([1, 1, 2, 5]), 5)
        w.add_histogram_raw("raw", min=0.0, max=3.0, num=6, sum=9.0, sum_squares=17.0,
                            bucket_limits=[1.0, 2.0, 3.0], bucket_counts=[1, 2, 3], global_step=6)

    ours, theirs = _write_both(torch_or_none, tmp_path, tb, calls)
    h = ours.Histograms("ten")[0].histogram_value
    counts, edges = np.histogram(values.astype(float), bins=10)
    assert (h.min, h.max, h.num) == (values.min(), values.max(), 1000)
    assert h.sum == pytest.approx(values.astype(float).sum()) and h.bucket == [0.0, *counts]
    np.testing.assert_allclose(h.bucket_limit, edges)
    h = ours.Histograms("ints")[0].histogram_value
    assert h.num == 4 and sum(h.bucket) == 4 and h.bucket[0] == 0 and h.bucket_limit[-1] >= 5
    assert ours.Histograms("raw")[0].histogram_value.bucket == [1, 2, 3]
    if theirs is not None:
        assert ours.Tags()["histograms"] == theirs.Tags()["histograms"]
        for tag in ours.Tags()["histograms"]:
            assert ours.Histograms(tag) [0].histogram_value == theirs.Histograms(tag)[0].histogram_value, tag
            assert ours.Histograms(tag)[0].step == theirs.Histograms(tag)[0].step


def test_histogram_of_nothing_is_refused(tb, tmp_path):
    with tb.SummaryWriter(tmp_path) as w, pytest.raises(ValueError, match="The input has no element."):
        w.add_histogram("x", ember.zeros(0))


# --- images and figures --------------------------------------------------------------------------------------

def test_images(tb, torch_or_none, tmp_path):
    from PIL import Image
    picture = _data(1, (3, 8, 10))

    def calls(w, lib):
        w.add_image("chw", lib.tensor(picture), 0)
        w.add_image("hwc", lib.tensor(picture).permute(1, 2, 0), 1, dataformats="HWC")
        w.add_image("hw", lib.tensor(picture[0]), 2, dataformats="HW")
        w.add_image("grey", lib.tensor(picture[:1]), 3)
        w.add_image("uint8", lib.tensor((picture * 255).astype(np.uint8)), 4)
        w.add_image("clipped", lib.tensor(picture * 3 - 1), 5)
        w.add_images("batch", lib.tensor(np.stack([picture] * 10)), 6)
        w.add_images("nhwc", lib.tensor(np.stack([picture] * 3)).permute(0, 2, 3, 1), 7, dataformats="NHWC")
        w.add_image_with_boxes("boxes", lib.tensor(picture), lib.tensor([[1.0, 1.0, 6.0, 5.0]]), 8)

    ours, theirs = _write_both(torch_or_none, tmp_path, tb, calls)
    import io
    decoded = np.asarray(Image.open(io.BytesIO(ours.Images("chw")[0].encoded_image_string)))
    np.testing.assert_array_equal(decoded, (picture.transpose(1, 2, 0) * 255).astype(np.uint8))
    grey = np.asarray(Image.open(io.BytesIO(ours.Images("hw")[0].encoded_image_string)))
    assert grey.shape == (8, 10, 3) and (grey[..., 0] == grey[..., 2]).all()
    batch = ours.Images("batch")[0]
    assert (batch.width, batch.height) == (80, 16)                 # 10 images, 8 across: 2 rows
    if theirs is not None:
        assert ours.Tags()["images"] == theirs.Tags()["images"]
        for tag in ours.Tags()["images"]:
            a, b = ours.Images(tag)[0], theirs.Images(tag)[0]
            assert (a.step, a.width, a.height) == (b.step, b.width, b.height)
            assert a.encoded_image_string == b.encoded_image_string, tag


def test_image_format_errors(tb, tmp_path):
    with tb.SummaryWriter(tmp_path) as w:
        with pytest.raises(AssertionError, match="size of input tensor and input format are different"):
            w.add_image("x", ember.zeros(3, 4), dataformats="CHW")
        with pytest.raises(AssertionError, match="You can not use the same dimension shorthand twice"):
            w.add_image("x", ember.zeros(3, 4, 4), dataformats="CCW")


def test_figures(tb, torch_or_none, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def figure(width):
        fig = plt.figure(figsize=(width, 1.5), dpi=50)
        plt.plot([0, 1, 2], [1, 0, 1])
        return fig

    def calls(w, lib):
        w.add_figure("one", figure(2), 0)
        w.add_figure("two", [figure(1), figure(1)], 1)
        kept = figure(1)
        w.add_figure("kept", kept, 2, close=False)
        assert plt.fignum_exists(kept.number)
        plt.close(kept)

    ours, theirs = _write_both(torch_or_none, tmp_path, tb, calls)
    one = ours.Images("one")[0]
    assert (one.width, one.height) == (100, 75) and not plt.get_fignums()
    if theirs is not None:
        for tag in ("one", "two", "kept"):
            assert ours.Images(tag)[0].encoded_image_string == theirs.Images(tag)[0].encoded_image_string


# --- text, hparams, tensors, audio, curves, layouts ----------------------------------------------------------

def test_text_and_hparams(tb, torch_or_none, tmp_path):
    def calls(w, lib):
        w.add_text("note", "hello **world** é", 2)
        w.add_hparams({"lr": 0.1, "bsize": 4, "opt": "adam", "flag": True, "none": None, "t": lib.tensor([3.0])},
                      {"hparam/acc": 0.9, "hparam/loss": 0.1}, hparam_domain_discrete={"opt": ["adam", "sgd"]},
                      run_name="trial", global_step=3)

    ours, theirs = _write_both(torch_or_none, tmp_path, tb, calls)
    text = ours.Tensors("note/text_summary")[0]
    assert text.step == 2 and text.tensor_proto.string_val == ["hello **world** é".encode()]
    run = _accumulator(tmp_path / "ember" / "trial")
    assert [(s.step, round(s.value, 6)) for s in run.Scalars("hparam/acc")] == [(3, 0.9)]
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    content = run.PluginTagToContent("hparams")
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["opt"].string_value == "adam"
    assert start.hparams["t"].number_value == 3.0 and "none" not in start.hparams
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/acc", "hparam/loss"]
    if theirs is not None:
        assert text.tensor_proto == theirs.Tensors("note/text_summary")[0].tensor_proto
        torch_run = _accumulator(tmp_path / "torch" / "trial")
        assert content == torch_run.PluginTagToContent("hparams")
        assert run.Tags() == torch_run.Tags()


def test_hparams_errors(tb, tmp_path):
    with tb.SummaryWriter(tmp_path) as w:
        with pytest.raises(TypeError, match="hparam_dict and metric_dict should be dictionary."):
            w.add_hparams([1], {})
        with pytest.raises(ValueError, match="value should be one of int, float, str, bool, or torch.Tensor"):
            w.add_hparams({"x": [1]}, {})
        with pytest.raises(TypeError, match=re.escape("hparam_domain_discrete[lr] should be a list")):
            w.add_hparams({"lr": 0.1}, {}, hparam_domain_discrete={"lr": ["a"]})


def test_tensors_audio_curves_layouts(tb, torch_or_none, tmp_path):
    values = np.random.default_rng(3).standard_normal((2, 3)) * 3
    labels, scores = np.random.default_rng(4).integers(0, 2, 50), _data(5, 50)
    wave = np.sin(np.linspace(0, 20, 400)).astype(np.float32)

    def calls(w, lib):
        for dtype in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int8", "uint8", "bool",
                      "complex64"):
            w.add_tensor(f"t_{dtype}", lib.tensor(values).to(getattr(lib, dtype)), 0)
        w.add_audio("sound", lib.tensor(wave), 1, sample_rate=8000)
        w.add_pr_curve("pr", lib.tensor(labels), lib.tensor(scores), 2, num_thresholds=200)
        w.add_custom_scalars({"cat": {"lines": ["Multiline", ["a", "b"]], "band": ["Margin", ["x", "lo", "hi"]]}})
        w.add_custom_scalars_multilinechart(["a", "b"], title="more")

    ours, theirs = _write_both(torch_or_none, tmp_path, tb, calls)
    proto = ours.Tensors("t_float64")[0].tensor_proto
    assert proto.dtype == 2 and [d.size for d in proto.tensor_shape.dim] == [2, 3]     # DT_DOUBLE
    np.testing.assert_array_equal(proto.double_val, values.reshape(-1))
    sound = ours.Audio("sound")[0]
    assert (sound.sample_rate, sound.length_frames, sound.content_type) == (8000, 400, "audio/wav")
    curve = np.array(ours.Tensors("pr")[0].tensor_proto.float_val).reshape(6, 127)   # at most 127 thresholds
    assert curve[0, 0] == labels.sum() and curve[1, 0] == len(labels) - labels.sum()
    if theirs is not None:
        assert ours.Tags() == theirs.Tags()
        for tag in ours.Tags()["tensors"]:
            assert ours.Tensors(tag)[0].tensor_proto == theirs.Tensors(tag)[0].tensor_proto, tag
        assert sound.encoded_audio_string == theirs.Audio("sound")[0].encoded_audio_string


def test_embedding(tb, torch_or_none, tmp_path):
    points, sprites = _data(6, (6, 3)), _data(7, (6, 3, 4, 4))

    def calls(w, lib):
        w.add_embedding(lib.tensor(points), metadata=list("abcdef"), label_img=lib.tensor(sprites), global_step=2,
                        tag="emb/x")
        w.add_embedding(lib.tensor(points), metadata=[[i, c] for i, c in enumerate("abcdef")],
                        metadata_header=["n", "letter"], tag="two")

    _write_both(torch_or_none, tmp_path, tb, calls)
    files = sorted(os.path.relpath(p, tmp_path / "ember") for p in glob.glob(str(tmp_path / "ember" / "**"),
                                                                              recursive=True)
                   if os.path.isfile(p) and "events" not in p)
    assert files == ["00000/two/metadata.tsv", "00000/two/tensors.tsv", "00002/emb%2fx/metadata.tsv",
                     "00002/emb%2fx/sprite.png", "00002/emb%2fx/tensors.tsv", "projector_config.pbtxt"]
    rows = (tmp_path / "ember" / "00000/two/tensors.tsv").read_text().splitlines()
    np.testing.assert_allclose(np.array([r.split("\t") for r in rows], float), points, rtol=1e-6)
    config = (tmp_path / "ember" / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "emb/x:00002"' in config and 'tensor_name: "two:00000"' in config
    if torch_or_none is not None:
        for name in files:
            assert (tmp_path / "ember" / name).read_bytes() == (tmp_path / "torch" / name).read_bytes(), name


# --- graph ---------------------------------------------------------------------------------------------------

def _net(lib_nn):
    """The same small model in ember or PyTorch: nested modules, and an op in the model's own forward."""
    class Net(lib_nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lib_nn.Linear(3, 4)
            self.act = lib_nn.ReLU()
            self.seq = lib_nn.Sequential(lib_nn.Linear(4, 4), lib_nn.Tanh())
            self.fc2 = lib_nn.Linear(4, 2)

        def forward(self, x):
            return self.fc2(self.seq(self.act(self.fc1(x)) * 2)).sum(1)
    return Net()


def _graph_nodes(logdir):
    acc = _accumulator(logdir)
    assert acc.Tags()["run_metadata"] == ["step1"]
    return {n.name: n for n in acc.Graph().node}


def _shape(node):
    return [d.size for d in node.attr["_output_shapes"].list.shape[0].dim] if "_output_shapes" in node.attr else None


def test_graph(tb, tmp_path):
    model = _net(nn)
    model.train()
    with tb.SummaryWriter(tmp_path) as w:
        w.add_graph(model, ember.randn(5, 3))
    assert model.training                                         # eval while recording, then restored
    nodes = _graph_nodes(tmp_path)
    assert _shape(nodes["input/x"]) == [5, 3] and nodes["input/x"].op == "IO Node"
    assert list(nodes["output/output.1"].input) == ["Net/SumBackward1"] and _shape(nodes["output/output.1"]) == [5]
    fc1 = nodes["Net/Linear[fc1]/AddmmBackward0"]
    assert list(fc1.input) == ["input/x", "Net/Linear[fc1]/weight", "Net/Linear[fc1]/bias"]
    assert _shape(fc1) == [5, 4]
    assert nodes["Net/Linear[fc1]/weight"].op == "Parameter" and _shape(nodes["Net/Linear[fc1]/weight"]) == [4, 3]
    assert list(nodes["Net/MulBackward0"].input) == ["Net/ReLU[act]/ReluBackward0"]    # in Net's own forward
    assert list(nodes["Net/Sequential[seq]/Tanh[1]/TanhBackward0"].input) == [
        "Net/Sequential[seq]/Linear[0]/AddmmBackward0"]
    # every input names a node of the graph
    assert all(i.split(":")[0] in nodes for n in nodes.values() for i in n.input)


def test_graph_matches_torch_names_and_scopes(tb, torch, tmp_path):
    from torch.utils.tensorboard import SummaryWriter
    with tb.SummaryWriter(tmp_path / "ember") as w:
        w.add_graph(_net(nn), ember.randn(5, 3))
    with SummaryWriter(tmp_path / "torch") as w:
        w.add_graph(_net(torch.nn), torch.randn(5, 3))
    ours, theirs = _graph_nodes(tmp_path / "ember"), _graph_nodes(tmp_path / "torch")
    io_nodes = {name: _shape(n) for name, n in ours.items() if n.op == "IO Node"}
    assert io_nodes == {name: _shape(n) for name, n in theirs.items() if n.op == "IO Node"}

    def scopes(nodes):
        """The module scope of every op and parameter: the name's leading Class[attribute] components."""
        found = set()
        for name, node in nodes.items():
            if node.op != "IO Node":
                parts = name.split("/")
                depth = 1
                while depth < len(parts) and re.fullmatch(r"\w+\[\w+\]", parts[depth]):
                    depth += 1
                found.add("/".join(parts[:depth]))
        return found
    assert scopes(ours) == scopes(theirs) == {"Net", "Net/Linear[fc1]", "Net/ReLU[act]",
                                              "Net/Sequential[seq]/Linear[0]", "Net/Sequential[seq]/Tanh[1]",
                                              "Net/Linear[fc2]"}


def test_graph_of_several_inputs_outputs_and_functions(tb, tmp_path):
    class Inplace(nn.Module):
        def forward(self, x, idx):
            return x.relu_(), self.emb(idx)

        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 2)

    def fn(a, b):
        return (a * b).sum()

    with tb.SummaryWriter(tmp_path / "a") as w:
        w.add_graph(Inplace(), (ember.randn(3), ember.tensor([1, 2])))
    nodes = _graph_nodes(tmp_path / "a")
    assert list(nodes["Inplace/ReluBackward0"].input) == ["input/x"]
    assert _shape(nodes["input/idx"]) == [2] and list(nodes["output/output.2"].input) == [
        "Inplace/Embedding[emb]/EmbeddingBackward0"]
    with tb.SummaryWriter(tmp_path / "b") as w:
        w.add_graph(fn, [ember.randn(3), ember.randn(3)])
    nodes = _graph_nodes(tmp_path / "b")
    assert list(nodes["fn/MulBackward0"].input) == ["input/a", "input/b"]


# --- the writer itself ---------------------------------------------------------------------------------------

def test_default_logdir_purge_close_and_reopen(tb, torch_or_none, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    def pattern(comment):
        return r"runs/[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + re.escape(socket.gethostname() + comment) + "$"
    writer = tb.SummaryWriter(comment="_lr0.1")
    assert re.match(pattern("_lr0.1"), writer.get_logdir().replace(os.sep, "/"))
    if torch_or_none is not None:
        from torch.utils.tensorboard import SummaryWriter
        theirs = SummaryWriter(comment="_torch")                  # (a run of its own)
        assert re.match(pattern("_torch"), theirs.get_logdir().replace(os.sep, "/"))
        theirs.close()
    writer.add_scalar("x", 1.0, 0)
    writer.flush()
    writer.close()
    writer.close()                                               # closing twice is harmless
    writer.add_scalar("x", 2.0, 1)                               # a closed writer opens a new event file
    writer.close()
    assert len(glob.glob(os.path.join(writer.get_logdir(), "events.out.tfevents.*"))) == 2
    assert [s.value for s in _accumulator(writer.get_logdir()).Scalars("x")] == [1.0, 2.0]
    with tb.SummaryWriter("purged", purge_step=1, filename_suffix=".v2") as w:
        w.add_scalar("x", 9.0, 1)
    assert glob.glob("purged/events.out.tfevents.*.v2")
    assert [(s.step, s.value) for s in _accumulator("purged").Scalars("x")] == [(1, 9.0)]


def test_file_writer_and_exports(tb, tmp_path):
    assert set(tb.__all__) == {"FileWriter", "RecordWriter", "SummaryWriter"}
    from tensorboard.compat.proto.summary_pb2 import Summary
    writer = tb.FileWriter(tmp_path)
    writer.add_summary(Summary(value=[Summary.Value(tag="s", simple_value=4.0)]), global_step=3, walltime=10.0)
    writer.close()
    scalars = _accumulator(tmp_path).Scalars("s")
    assert [(s.step, s.value, s.wall_time) for s in scalars] == [(3, 4.0, 10.0)]
    assert ember.utils.tensorboard is tb


# --- without tensorboard -------------------------------------------------------------------------------------

def _without_tensorboard(tmp_path, code):
    """Run code in a Python that sees this environment's packages except tensorboard; its output."""
    site = Path(np.__file__).resolve().parents[1]
    hidden = tmp_path / "site"
    hidden.mkdir(parents=True)
    for entry in site.iterdir():
        if not entry.name.startswith("tensorboard"):
            (hidden / entry.name).symlink_to(entry)
    setup = (f"import sys; sys.path = [p for p in sys.path if 'site-packages' not in p] + [{str(REPO)!r}, "
             f"{str(hidden)!r}]\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-S", "-c", setup + code], capture_output=True, text=True, timeout=120,
                            env=env)
    return result.stdout.strip()


IMPORT_CHECK = """
try:
    import {module}.utils.tensorboard
except ImportError as e:
    print(type(e).__name__, e)
"""


def test_import_without_tensorboard_fails_as_torch(tmp_path):
    try:
        import tensorboard  # noqa: F401
    except ImportError:                                          # no tensorboard here: check directly
        with pytest.raises(ModuleNotFoundError, match="No module named 'tensorboard'"):
            import ember.utils.tensorboard  # noqa: F401
        return
    ours = _without_tensorboard(tmp_path / "ember", IMPORT_CHECK.format(module="ember"))
    assert ours == "ModuleNotFoundError No module named 'tensorboard'"
    if not os.path.isdir(Path(np.__file__).resolve().parents[1] / "torch"):
        return
    assert _without_tensorboard(tmp_path / "torch", IMPORT_CHECK.format(module="torch")) == ours


def test_import_ember_does_not_import_tensorboard():
    code = "import sys, ember, ember.utils; print('tensorboard' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.stdout.strip() == "False"
