"""dtype objects (ember.float32 ...), their NumPy mapping, and PyTorch's type-promotion rules."""
import builtins

import numpy as np

__all__ = ["dtype", "promote_types", "result_type", "get_default_dtype", "set_default_dtype",
           "is_floating_point", "is_complex", "can_cast", "iinfo", "finfo"]

# Category ranks for promotion: bool < integer < floating < complex.
BOOL, INT, FLOAT, COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type. Compared by identity; the NumPy dtype is `numpy`."""
    __slots__ = ("name", "numpy", "itemsize", "is_floating_point", "is_complex", "is_signed",
                 "category", "__weakref__")

    def __init__(self, name, np_dtype, category, is_signed):
        self.name = name
        self.numpy = np.dtype(np_dtype) if np_dtype is not None else None
        self.itemsize = self.numpy.itemsize if self.numpy is not None else 2
        self.category = category
        self.is_floating_point = category == FLOAT
        self.is_complex = category == COMPLEX
        self.is_signed = is_signed

    def __repr__(self):
        return "ember." + self.name

    def __getattr__(self, name):
        # Reached only while bfloat16's `numpy` slot is unset: ml_dtypes is imported on bfloat16's first use,
        # not with ember (it costs import time that most programs never use).
        if name == "numpy" and self.name == "bfloat16":
            return _resolve_bfloat16()
        raise AttributeError(f"'ember.dtype' object has no attribute '{name}'")

    def __reduce__(self):                         # pickles as a reference to the singleton
        return (_by_name, (self.name,))

    def to_real(self):
        return {"complex64": float32, "complex128": float64}.get(self.name, self)

    def to_complex(self):
        # no complex32 in NumPy: half-precision floats go to complex64 (PyTorch has ComplexHalf)
        return {"float32": complex64, "float64": complex128, "float16": complex64,
                "bfloat16": complex64}.get(self.name, self)


def _by_name(name):
    return _BY_NAME[name]


def _bfloat16_numpy():
    try:                                          # optional: bfloat16 needs ml_dtypes
        import ml_dtypes
    except ImportError:
        return None
    return ml_dtypes.bfloat16


bool_ = dtype("bool", np.bool_, BOOL, False)
uint8 = dtype("uint8", np.uint8, INT, False)
int8 = dtype("int8", np.int8, INT, True)
int16 = dtype("int16", np.int16, INT, True)
int32 = dtype("int32", np.int32, INT, True)
int64 = dtype("int64", np.int64, INT, True)
float16 = dtype("float16", np.float16, FLOAT, True)
bfloat16 = dtype("bfloat16", None, FLOAT, True)
del bfloat16.numpy                                # set on first use by _resolve_bfloat16 (dtype.__getattr__)
float32 = dtype("float32", np.float32, FLOAT, True)
float64 = dtype("float64", np.float64, FLOAT, True)
complex64 = dtype("complex64", np.complex64, COMPLEX, True)
complex128 = dtype("complex128", np.complex128, COMPLEX, True)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64, complex128)
_BY_NAME = {d.name: d for d in ALL}
_FROM_NUMPY = {d.numpy: d for d in ALL if d is not bfloat16}


def _resolve_bfloat16():
    """bfloat16.numpy on first use: ml_dtypes' bfloat16 (registered in _FROM_NUMPY), or None without it."""
    np_type = _bfloat16_numpy()
    bfloat16.numpy = np.dtype(np_type) if np_type is not None else None
    if bfloat16.numpy is not None:
        _FROM_NUMPY[bfloat16.numpy] = bfloat16
    return bfloat16.numpy

# Aliases PyTorch users write.
ALIASES = {"bool": bool_, "float": float32, "double": float64, "half": float16, "long": int64,
           "int": int32, "short": int16, "cfloat": complex64, "cdouble": complex128,
           "uint8": uint8, "int8": int8, "int16": int16, "int32": int32, "int64": int64,
           "float16": float16, "bfloat16": bfloat16, "float32": float32, "float64": float64,
           "complex64": complex64, "complex128": complex128}


# PyTorch's ScalarType names, used in its error messages ("expected ... Float but found Long").
_SCALAR_TYPE = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double",
                "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def scalar_type_name(d):
    """PyTorch's ScalarType name of a dtype ("Float", "Long" ...)."""
    return _SCALAR_TYPE[d.name]


def from_numpy(np_dtype):
    """The ember dtype of a NumPy dtype; TypeError for types PyTorch has no match for."""
    try:
        return _FROM_NUMPY[np_dtype]
    except KeyError:
        pass
    np_dtype = np.dtype(np_dtype)
    if np_dtype.name == "bfloat16":
        _resolve_bfloat16()                       # an ml_dtypes array before ember's first bfloat16 use
    if np_dtype in _FROM_NUMPY:
        return _FROM_NUMPY[np_dtype]
    if np_dtype.byteorder not in "=|" and np_dtype.newbyteorder("=") in _FROM_NUMPY:
        return _FROM_NUMPY[np_dtype.newbyteorder("=")]
    raise TypeError(f"can't convert np.ndarray of type numpy.{np_dtype}. The only supported types are: "
                    "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, "
                    "and bool.")


def to_dtype(d):
    """Accept an ember dtype, a NumPy dtype/type, or a Python type (float, int, bool, complex)."""
    if d.__class__ is dtype:
        return d
    if d is builtins.float:
        return _default_float[0]
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool_
    if d is builtins.complex:
        return _default_float[0].to_complex()
    if isinstance(d, str):
        d = d.removeprefix("torch.").removeprefix("ember.")
        if d in ALIASES:
            return ALIASES[d]
    torch_name = getattr(d, "__module__", None) == "torch.types" or type(d).__module__ == "torch"
    if torch_name and str(d).startswith("torch."):
        return ALIASES[str(d)[6:]]
    return from_numpy(d)


def check_bfloat16():
    if bfloat16.numpy is None:
        raise RuntimeError("bfloat16 needs the optional package ml_dtypes: pip install ml_dtypes")


_default_float = [float32]


def get_default_dtype():
    return _default_float[0]


def set_default_dtype(d):
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float[0] = d


def is_floating_point(input):
    return input.dtype.is_floating_point


def is_complex(input):
    return input.dtype.is_complex


_FLOAT_ORDER = {"float16": 0, "bfloat16": 0, "float32": 1, "float64": 2}


def promote_types(type1, type2):
    """PyTorch's promotion lattice for two dtypes."""
    if type1 is type2:
        return type1
    c1, c2 = type1.category, type2.category
    if c1 != c2:
        hi, lo = (type1, type2) if c1 > c2 else (type2, type1)
        if hi.category == COMPLEX and lo.category == FLOAT and lo is float64:
            return complex128
        return hi
    if c1 == INT:
        if type1 is uint8 or type2 is uint8:      # uint8 with a signed type needs the next wider signed type
            other = type2 if type1 is uint8 else type1
            return int16 if other is int8 else other
        return type1 if type1.itemsize >= type2.itemsize else type2
    if c1 == FLOAT:
        if {type1.name, type2.name} == {"float16", "bfloat16"}:
            return float32
        return type1 if _FLOAT_ORDER[type1.name] >= _FLOAT_ORDER[type2.name] else type2
    if c1 == COMPLEX:
        return complex128 if complex128 in (type1, type2) else complex64
    return type1


def _scalar_category(value):
    if isinstance(value, builtins.bool):
        return BOOL
    if isinstance(value, builtins.int):
        return INT
    if isinstance(value, builtins.float):
        return FLOAT
    if isinstance(value, builtins.complex):
        return COMPLEX
    raise TypeError(f"unsupported operand type {type(value).__name__}")


def _category_default(category, relative_to=None):
    if category == BOOL:
        return bool_
    if category == INT:
        return int64
    if category == FLOAT:
        return _default_float[0]
    if relative_to is not None and relative_to is float64:
        return complex128
    return _default_float[0].to_complex()


def _combine(higher, lower):
    # PyTorch's category combination: `higher` wins its category, `lower` only lifts the category.
    if higher is None:
        return lower
    if lower is None or higher.category == COMPLEX:
        return higher
    if lower.category == COMPLEX:
        return higher.to_complex() if higher.category == FLOAT else lower
    if higher.category == FLOAT:
        return higher
    if higher is bool_ or lower.category == FLOAT:
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """PyTorch's result type: dimensioned tensors > zero-dim tensors > Python scalars, per category."""
    dim_t = zero_t = wrapped = None
    for op in operands:
        dt = getattr(op, "dtype", None)
        if dt.__class__ is dtype:
            if op.ndim:
                dim_t = dt if dim_t is None else promote_types(dim_t, dt)
            else:
                zero_t = dt if zero_t is None else promote_types(zero_t, dt)
        else:
            dt = _category_default(_scalar_category(op))
            wrapped = dt if wrapped is None else promote_types(wrapped, dt)
    return _combine(dim_t, _combine(zero_t, wrapped))


def can_cast(from_, to):
    """PyTorch's same-kind rule: no casting to a lower category."""
    return from_.category <= to.category


class iinfo:
    __slots__ = ("bits", "min", "max", "dtype")

    def __init__(self, type):
        info = np.iinfo(to_dtype(type).numpy)
        self.bits, self.min, self.max, self.dtype = info.bits, int(info.min), int(info.max), to_dtype(type).name


class finfo:
    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type=None):
        d = to_dtype(type) if type is not None else _default_float[0]
        if d.category < FLOAT:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            f"'torch.finfo' (got {d})")
        if d is bfloat16:
            check_bfloat16()
            import ml_dtypes                      # NumPy's finfo does not know ml_dtypes' types
            info = ml_dtypes.finfo(d.numpy)
        else:
            info = np.finfo(d.to_real().numpy)
        self.bits, self.eps, self.max, self.min = info.bits, float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution, self.dtype = 10.0 ** -int(info.precision), d.name
