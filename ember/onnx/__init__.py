"""ember.onnx: PyTorch's torch.onnx names. ember cannot write ONNX: export needs a captured graph of the model
(PyTorch records one with torch.export or the TorchScript tracer, then converts it with the onnx/onnxscript
packages), and ember runs models eagerly without recording one. export() raises OnnxExporterError saying so and
how to export with PyTorch from ember's weights; is_in_onnx_export() is always False.
"""

__all__ = ["OnnxExporterError", "export", "is_in_onnx_export"]


class OnnxExporterError(RuntimeError):
    """PyTorch's torch.onnx.OnnxExporterError: an export failed."""


def is_in_onnx_export():
    """False: ember never runs a model for an ONNX export."""
    return False


def export(model, args=(), f=None, *, kwargs=None, **options):
    """Refused with OnnxExporterError: see the module docstring."""
    name = type(model).__name__
    raise OnnxExporterError(
        f"ember.onnx.export({name}): ember cannot export to ONNX: that needs a graph of the model captured by "
        "torch.export or the TorchScript tracer, which ember (eager only) does not record. Export with PyTorch: "
        "ember.save(model.state_dict(), 'weights.pt'), build the same model class with torch.nn, "
        "model.load_state_dict(torch.load('weights.pt')), then torch.onnx.export(model, args, f).")
