"""A bfloat16 model exports with BFLOAT16 initializers holding the parameters' own bits (they were written as
float32, which made the model invalid: MatMul's operands disagreed), and the exported model passes ONNX's checker."""
import numpy as np
import pytest

import ember

onnx = pytest.importorskip("onnx")
pytest.importorskip("ml_dtypes")


def test_bfloat16_parameters_are_bfloat16_initializers():
    from onnx import TensorProto, numpy_helper
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2)).to(ember.bfloat16)
    program = ember.onnx.export(model, (ember.randn(2, 3, dtype=ember.bfloat16),), dynamo=True)
    proto = program.model_proto
    onnx.checker.check_model(proto, full_check=True)
    inits = {t.name: t for t in proto.graph.initializer}
    params = dict(model.named_parameters())
    assert set(params) <= set(inits)
    for name, p in params.items():
        assert inits[name].data_type == TensorProto.BFLOAT16
        stored = numpy_helper.to_array(inits[name]).astype(np.float32)
        np.testing.assert_array_equal(stored, p.detach().float().numpy())
