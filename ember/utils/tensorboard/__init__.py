"""ember.utils.tensorboard: PyTorch's torch.utils.tensorboard, SummaryWriter and FileWriter over the
`tensorboard` package (an optional dependency, `pip install tensorboard`; no TensorFlow needed). Importing
this module imports tensorboard, as PyTorch's does: without it the import fails with tensorboard's own
ModuleNotFoundError ("No module named 'tensorboard'")."""
import tensorboard

if not hasattr(tensorboard, "__version__") or tuple(
        int(p) for p in tensorboard.__version__.split(".")[:2] if p.isdigit()) < (1, 15):
    raise ImportError("TensorBoard logging requires TensorBoard version 1.15 or above")
del tensorboard

from tensorboard.summary.writer.record_writer import RecordWriter  # noqa: E402

from .writer import FileWriter, SummaryWriter  # noqa: E402

__all__ = ["FileWriter", "RecordWriter", "SummaryWriter"]
