"""The models of examples/ exported to ONNX and run in onnxruntime, and examples/export_onnx.py end to end."""
import importlib.util
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import ember as torch  # noqa: E402
from ember import nn  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load(name):
    spec = importlib.util.spec_from_file_location(f"onnx_example_{name}", os.path.join(ROOT, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_roundtrip(model, make, traced=4, other=7, name="x"):
    """Export at batch `traced` with a dynamic batch axis; onnxruntime equals ember at both batch sizes."""
    model.eval()
    program = torch.onnx.export(model, (make(traced),), input_names=[name], output_names=["out"],
                                dynamic_axes={name: {0: "batch"}, "out": {0: "batch"}})
    onnx.checker.check_model(program.model_proto, full_check=True)
    graph_input = program.model_proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert graph_input.dim_param == "batch"
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for batch in (traced, other):
        x = make(batch)
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {name: x.numpy()})[0]
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(program(x)[0].numpy(), expected, rtol=1e-4, atol=1e-5)   # ONNXProgram too
    return program


def _digit_images(batch):
    return torch.rand(batch, 1, 8, 8)


def test_digits_mlp_model():
    model = load("digits").make_model("mlp")
    program = check_roundtrip(model, _digit_images)
    assert [n.op_type for n in program.model_proto.graph.node].count("MatMul") == 3


def test_digits_cnn_model_with_batch_statistics():
    model = load("digits").make_model("cnn")
    model.train()
    with torch.no_grad():                      # running statistics that are not the initial 0 and 1
        for _ in range(3):
            model(torch.rand(16, 1, 8, 8) * 2)
    assert model[1].running_mean.abs().sum() > 0
    program = check_roundtrip(model, _digit_images)
    ops = [n.op_type for n in program.model_proto.graph.node]
    assert "BatchNormalization" in ops and "Dropout" not in ops
    assert model.training is False              # export ran in eval mode; the model stays where it was put


def test_regression_model():
    w, b, _ = load("regression").main(["--steps", "50", "--device", "cpu"])
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([w]))
        model.bias.fill_(b)
    check_roundtrip(model, lambda batch: torch.randn(batch, 2), traced=5, other=1000)


def test_export_onnx_example(tmp_path, capsys):
    pytest.importorskip("sklearn")
    result = load("export_onnx").main(["--steps", "40", "--out", str(tmp_path), "--show", "10"])
    out = capsys.readouterr().out
    path = tmp_path / "digits_cnn.onnx"
    assert result["path"] == str(path) and path.exists()
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    # the table: a header and ten rows of image, label, ember's and onnxruntime's predictions
    rows = out.split("onnxruntime\n", 1)[1].strip().split("\n\n")[0].splitlines()
    assert len(rows) == 10 and all(len(r.split()) == 4 for r in rows)
    assert all(r.split()[2] == r.split()[3] for r in rows)
    assert result["ember_logits"].shape == (360, 10)          # onnxruntime ran a batch other than the traced 2
    assert result["max_abs_diff"] < 1e-4
    np.testing.assert_allclose(result["ort_logits"], result["ember_logits"], rtol=1e-4, atol=1e-4)
    assert f"max abs difference of the logits: {result['max_abs_diff']:.2e}" in out
    assert (result["ember_logits"].argmax(1) == result["labels"]).mean() > 0.5   # 40 steps learn something
