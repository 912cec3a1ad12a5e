"""class device ("cpu", "cuda:0", "meta") and the mapping from a device to its backend."""

__all__ = ["device"]

_KNOWN_TYPES = ("cpu", "cuda", "meta")


class device:
    """Where a tensor lives. Interned: equal devices are the same object, so ops compare with `is`."""
    __slots__ = ("type", "index", "__weakref__")
    _interned = {}

    def __new__(cls, type, index=None):
        if isinstance(type, device):
            return type
        if isinstance(type, int) and index is None:      # torch.device(0) means cuda:0
            type, index = "cuda", type
        key = (type, index)
        cached = cls._interned.get(key)
        if cached is not None:
            return cached
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string or int, got {type.__class__.__name__}")
        name = type
        if ":" in name:
            if index is not None:
                raise ValueError(f"device(): type (string) must not include an index because index was "
                                 f"passed explicitly: {name}")
            name, _, idx = name.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if name not in _KNOWN_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_KNOWN_TYPES)} device type at start of device "
                               f"string: {type}")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self = object.__new__(cls)
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", index)
        cls._interned[key] = cls._interned.setdefault((name, index), self)
        return cls._interned[key]

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")
_default = [CPU]            # what factories use when no device= is given (set_default_device)


def get_default_device():
    """The device factory functions (zeros, tensor, arange ...) use when none is given."""
    return _default[0]


def set_default_device(d):
    """Make factory functions create tensors on `d` by default (None restores cpu), as in PyTorch."""
    _default[0] = CPU if d is None else to_device(d)


def to_device(d):
    """Normalise str/int/device/None (None means CPU)."""
    if d is None:
        return CPU
    if d.__class__ is device:
        return d
    if d == "cuda" or (isinstance(d, str) and d.startswith("cuda")) or isinstance(d, int):
        d = device(d)
        return device("cuda", d.index or 0)
    return device(d)
