"""nn.parallel: DataParallel, and DistributedDataParallel, which needs a process group ember never has (PyTorch's
torch.nn.parallel)."""
from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
