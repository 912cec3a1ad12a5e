"""Weight memory-format conversion: ember tensors have one layout, so these return the module as is."""

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def convert_conv2d_weight_memory_format(module, memory_format):
    """PyTorch re-lays out Conv2d/ConvTranspose2d weights; ember has no memory formats (a no-op)."""
    return module


def convert_conv3d_weight_memory_format(module, memory_format):
    """PyTorch re-lays out Conv3d/ConvTranspose3d weights; ember has no memory formats (a no-op)."""
    return module
