"""ember.export: the names of PyTorch's torch.export that dynamic shapes are written with (Dim), for
ember.onnx.export(..., dynamic_shapes=...). ember does not capture ExportedPrograms."""

__all__ = ["Dim"]


class _DimHint:
    """Dim.AUTO / Dim.DYNAMIC / Dim.STATIC."""
    __slots__ = ("kind",)

    def __init__(self, kind):
        self.kind = kind

    def __repr__(self):
        return f"Dim.{self.kind}"

    @property
    def __name__(self):
        return None


class Dim:
    """A named dynamic dimension: Dim("batch", min=1, max=1024)."""
    AUTO = _DimHint("AUTO")
    DYNAMIC = _DimHint("DYNAMIC")
    STATIC = _DimHint("STATIC")

    def __init__(self, name, *, min=None, max=None):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Dim name must be a valid identifier, got {name!r}")
        self.__name__ = name
        self.min, self.max = min, max

    def __repr__(self):
        return f"Dim({self.__name__!r}, min={self.min}, max={self.max})"
