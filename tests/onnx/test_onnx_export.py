"""ember.onnx.export's API: what it accepts and returns, names, dynamic dimensions, errors, and that tracing
leaves nothing behind. The layer families: test_onnx_layers.py, test_onnx_sequence.py."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
from ember import nn

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def check(program):
    onnx.checker.check_model(program.model_proto, full_check=True)
    return program


def close(program, model, *inputs):
    got = program(*inputs)
    with ember.no_grad():
        want = model(*inputs)
    want = want if isinstance(want, (tuple, list)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-5)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 3)
        self.register_buffer("shift", ember.tensor([0.5, -1.0, 2.0]))

    def forward(self, x):
        return self.fc2(ember.tanh(self.fc1(x))) + self.shift


def test_export_returns_a_program_and_writes_the_file(tmp_path):
    model = Net()
    x = ember.randn(2, 4)
    path = tmp_path / "net.onnx"
    program = check(ember.onnx.export(model, (x,), str(path)))
    assert isinstance(program, ember.onnx.ONNXProgram)
    loaded = onnx.load(str(path))
    assert [i.name for i in loaded.graph.input] == ["x"] and [o.name for o in loaded.graph.output] == ["output"]
    assert {i.name for i in loaded.graph.initializer} >= {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                                          "shift"}
    assert loaded.opset_import[0].version == 18 and loaded.producer_name == "ember"
    close(program, model, x)
    program.save(tmp_path / "again.onnx")
    assert onnx.load(str(tmp_path / "again.onnx")).graph == loaded.graph
    program.save(tmp_path / "external.onnx", external_data=True)
    assert (tmp_path / "external.onnx.data").exists()
    np.testing.assert_allclose(np.asarray(onnx.load(str(tmp_path / "external.onnx")).graph.initializer[0].dims),
                               np.asarray(loaded.graph.initializer[0].dims))


@pytest.mark.parametrize("dynamo", [True, False])
def test_dynamic_batch_from_dynamic_axes_or_dynamic_shapes(dynamo):
    model = Net()
    x = ember.randn(3, 4)
    for options in ({"dynamic_axes": {"x": {0: "batch"}}}, {"dynamic_axes": {"x": [0]}},
                    {"dynamic_shapes": {"x": {0: ember.export.Dim("batch")}}},
                    {"dynamic_shapes": ({0: "batch"},)}):
        program = check(ember.onnx.export(model, (x,), dynamo=dynamo, **options))
        dim = program.model_proto.graph.input[0].type.tensor_type.shape.dim[0]
        assert dim.dim_param and not dim.dim_value, options
        for batch in (3, 1, 6):
            close(program, model, ember.randn(batch, 4))


def test_without_dynamic_axes_the_shapes_are_static():
    program = check(ember.onnx.export(Net(), (ember.randn(3, 4),)))
    assert [d.dim_value for d in program.model_proto.graph.input[0].type.tensor_type.shape.dim] == [3, 4]


class TwoInTwoOut(nn.Module):
    def forward(self, a, b, scale=None):
        s = a @ b
        return {"product": s * scale, "sum": (a.sum(dim=1), b.mean())}


def test_names_kwargs_and_nested_outputs():
    model = TwoInTwoOut()
    a, b, scale = ember.randn(2, 3), ember.randn(3, 4), ember.tensor(2.0)
    program = check(ember.onnx.export(model, (a, b), kwargs={"scale": scale}, input_names=["A"],
                                      output_names=["P"]))
    graph = program.model_proto.graph
    assert [i.name for i in graph.input] == ["A", "b", "scale"]
    assert [o.name for o in graph.output] == ["P", "output_1", "output_2"]
    got = program(a, b, scale)
    np.testing.assert_allclose(got[0].numpy(), ((a @ b) * 2).numpy(), rtol=1e-5)
    np.testing.assert_allclose(got[1].numpy(), a.sum(dim=1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(got[2].numpy(), b.mean().numpy(), rtol=1e-5)


def test_sizes_read_in_forward_follow_the_dynamic_dimension():
    class Heads(nn.Module):
        def forward(self, x):
            b, t, c = x.shape
            y = x.view(b, t, 2, c // 2).transpose(1, 2)          # (B, 2, T, C/2)
            return y.reshape(x.size(0) * 2, -1) + ember.arange(t).repeat(c // 2)
    model = Heads()
    program = check(ember.onnx.export(model, (ember.randn(2, 3, 4),), dynamic_axes={"x": {0: "b", 1: "t"}}))
    for shape in ((2, 3, 4), (5, 7, 4), (1, 1, 4)):
        close(program, model, ember.randn(*shape))


def test_constant_work_in_forward_is_folded():
    class Masked(nn.Module):
        def forward(self, x):
            mask = ember.tril(ember.ones(4, 4)).bool()            # constants only: one initializer
            return x.masked_fill(~mask, float("-inf")).softmax(-1)
    program = check(ember.onnx.export(Masked(), (ember.randn(2, 4, 4),)))
    ops = [n.op_type for n in program.model_proto.graph.node]
    assert "Trilu" not in ops and ops.count("Where") == 1
    close(program, Masked(), ember.randn(2, 4, 4))


def test_export_params_false_makes_the_parameters_inputs():
    model = Net()
    program = check(ember.onnx.export(model, (ember.randn(2, 4),), export_params=False))
    graph = program.model_proto.graph
    assert [i.name for i in graph.input] == ["x", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "shift"]
    assert not graph.initializer or all(i.name not in ("fc1.weight",) for i in graph.initializer)


def test_exports_in_eval_mode_and_restores_the_mode():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4))
    model.train()
    seen = []
    model.register_forward_pre_hook(lambda m, a: seen.append((m.training, ember.onnx.is_in_onnx_export())))
    program = check(ember.onnx.export(model, (ember.randn(3, 4),)))
    assert seen == [(False, True)] and model.training and not ember.onnx.is_in_onnx_export()
    assert "Dropout" not in [n.op_type for n in program.model_proto.graph.node]
    model.eval()
    close(program, model, ember.randn(3, 4))


def test_opset_versions():
    for opset in (17, 21):
        program = check(ember.onnx.export(Net(), (ember.randn(2, 4),), opset_version=opset))
        assert program.model_proto.opset_import[0].version == opset
    with pytest.raises(ember.onnx.OnnxExporterError, match="opset_version 12"):
        ember.onnx.export(Net(), (ember.randn(2, 4),), opset_version=12)


def test_an_op_without_a_conversion_names_the_op_and_the_module():
    class Inner(nn.Module):
        def forward(self, x):
            return ember.linalg.det(x)
    model = nn.Sequential(nn.Linear(3, 3), Inner())
    with pytest.raises(ember.onnx.OnnxExporterError, match=r"linalg_det.*\b1\b"):
        ember.onnx.export(model, (ember.randn(2, 3, 3),))
    assert ember.add.__name__ == "add" and not hasattr(ember.add, "_ember_profiled")   # tracing undone


def test_python_values_taken_from_tensors_warn():
    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * x.max().item()
            return -x
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(ember.onnx.export(Branchy(), (ember.ones(2),)))
    kinds = {type(w.message) for w in caught}
    assert ember.jit.TracerWarning in kinds
    assert sum("bool()" in str(w.message) or ".item()" in str(w.message) for w in caught) >= 2


def test_tracing_leaves_ember_as_it_was():
    before = (ember.Tensor.shape, ember.Tensor.size, ember.Tensor.__bool__, nn.Module.__call__,
              ember.Tensor.__add__, ember.nn.functional.linear)
    ember.onnx.export(Net(), (ember.randn(2, 4),), dynamic_axes={"x": {0: "b"}})
    after = (ember.Tensor.shape, ember.Tensor.size, ember.Tensor.__bool__, nn.Module.__call__,
             ember.Tensor.__add__, ember.nn.functional.linear)
    assert before == after
    assert type(ember.randn(2, 3).shape[0]) is int


def test_refused_while_a_profiler_records():
    with ember.profiler.profile():
        with pytest.raises(RuntimeError, match="profiler"):
            ember.onnx.export(Net(), (ember.randn(2, 4),))


def test_bad_names_are_refused():
    with pytest.raises(ember.onnx.OnnxExporterError, match="neither an input"):
        ember.onnx.export(Net(), (ember.randn(2, 4),), dynamic_axes={"y": {0: "b"}})
    with pytest.raises(ember.onnx.OnnxExporterError, match="2 input_names for 1"):
        ember.onnx.export(Net(), (ember.randn(2, 4),), input_names=["a", "b"])


def test_import_ember_onnx_does_not_import_onnx():
    code = "import sys, ember.onnx; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONWARNINGS="ignore")).stdout.split()
    assert out == ["False", "False"]
