"""The ONNX graph an export builds, one traced op at a time (see ember/onnx/_tracer.py).

Every tensor the traced forward makes gets the name of the ONNX value that computes it (`bind`); a tensor that
no traced op made (a constant built before the forward, or one made only from constants) becomes an
initializer holding its value when an op first uses it (`name_of`). A value is *live* when it depends on a graph
input or a parameter: only ops with a live input become nodes; an op on constants alone is folded (its result
is an initializer), so constant work in forward (a causal mask of a fixed size, an arange) needs no converter.

Sizes read from tensors while a dynamic dimension is declared are SymInts (Python ints that remember where they
came from, see `SymInt`), so a shape computed in forward as `x.shape[0] * 2` is exported as Shape, Gather and
Mul nodes and follows the input's real size at run time.
"""
import numpy

from .._tensor import Tensor


class SymInt(int):
    """An int read from a traced tensor's shape (or computed from such ints): its value for this trace, and the
    expression that computes it in the graph: ("dim", value name, axis) or (op, left, right)."""

    def __new__(cls, value, expr):
        self = int.__new__(cls, value)
        self.expr = expr
        return self

    def _op(self, other, op, fn, reverse=False):
        if not isinstance(other, int) or isinstance(other, bool):
            return fn(int(self), other) if not reverse else fn(other, int(self))
        value = fn(other, int(self)) if reverse else fn(int(self), int(other))
        return SymInt(value, (op, other, self) if reverse else (op, self, other))

    def __add__(self, other):
        return self._op(other, "Add", int.__add__)

    def __radd__(self, other):
        return self._op(other, "Add", int.__add__, True)

    def __sub__(self, other):
        return self._op(other, "Sub", int.__sub__)

    def __rsub__(self, other):
        return self._op(other, "Sub", int.__sub__, True)

    def __mul__(self, other):
        return self._op(other, "Mul", int.__mul__)

    def __rmul__(self, other):
        return self._op(other, "Mul", int.__mul__, True)

    def __floordiv__(self, other):
        return self._op(other, "FloorDiv", int.__floordiv__)

    def __rfloordiv__(self, other):
        return self._op(other, "FloorDiv", int.__floordiv__, True)

    def __neg__(self):
        return SymInt(-int(self), ("Sub", 0, self))

    def __repr__(self):
        return int.__repr__(int(self))

    __str__ = __repr__


def _onnx():
    import onnx
    return onnx


class Graph:
    """Nodes, initializers and the names of traced tensors."""

    def __init__(self, opset):
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self.inputs = []                # onnx ValueInfoProto
        self.names = {}                 # id(tensor) -> value name
        self.live = set()               # value names that depend on a graph input or a parameter
        self.keep = []                  # the traced tensors, alive so their ids stay theirs
        self.used = set()
        self.constants = {}             # (dtype, bytes, shape) -> name, so equal constants are one initializer
        self.dynamic = False            # sizes are SymInts (some dimension is dynamic)

    # -- names ----------------------------------------------------------------------------------------------
    def fresh(self, hint):
        hint = "".join(c if c.isalnum() or c in "._" else "_" for c in hint) or "v"
        name, n = hint, 0
        while name in self.used:
            n += 1
            name = f"{hint}_{n}"
        self.used.add(name)
        return name

    def bind(self, tensor, name, live=True):
        self.names[id(tensor)] = name
        self.keep.append(tensor)
        if live:
            self.live.add(name)

    def is_live(self, value):
        if isinstance(value, Tensor):
            name = self.names.get(id(value))
            return name is not None and name in self.live
        if isinstance(value, SymInt):
            return True
        if isinstance(value, (list, tuple)):
            return any(self.is_live(v) for v in value)
        return False

    def name_of(self, tensor):
        """The value name of a tensor: its traced name, or a new initializer holding its current value."""
        name = self.names.get(id(tensor))
        if name is None:
            name = self.constant(host_array(tensor), "const")
            self.bind(tensor, name, live=False)
        return name

    # -- initializers and constants -------------------------------------------------------------------------
    def initializer(self, array, name):
        from onnx import numpy_helper
        array = numpy.asarray(array)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        if array.dtype.name == "bfloat16":          # ml_dtypes' bfloat16: its 16-bit patterns, as ONNX stores them
            from onnx import TensorProto, helper
            self.initializers.append(helper.make_tensor(name, TensorProto.BFLOAT16, array.shape,
                                                        array.view(numpy.uint16).tobytes(), raw=True))
        else:
            self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def constant(self, array, hint="const"):
        array = numpy.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 64 else None
        if key is not None and key in self.constants:
            return self.constants[key]
        name = self.initializer(array, self.fresh(hint))
        if key is not None:
            self.constants[key] = name
        return name

    def constant_value(self, name):
        """The array of an initializer (a constant input a converter made)."""
        from onnx import numpy_helper
        for tensor in self.initializers:
            if tensor.name == name:
                return numpy_helper.to_array(tensor)
        raise ValueError(f"ember.onnx: {name} is computed in the graph, not a constant")

    def scalar(self, value, dtype):
        """A 0-d constant of a NumPy dtype."""
        return self.constant(numpy.array(value, dtype=dtype), "scalar")

    def ints(self, values):
        """A 1-D int64 tensor of `values` (ints or SymInts): a constant, or Concat of the dimensions computed."""
        values = list(values)
        if not any(isinstance(v, SymInt) for v in values):
            return self.constant(numpy.array(values, dtype=numpy.int64), "shape")
        parts = [self.unsqueeze0(self.sym(v)) if isinstance(v, SymInt) else
                 self.constant(numpy.array([v], dtype=numpy.int64), "dim") for v in values]
        return self.node("Concat", parts, axis=0)

    def int_scalar(self, value):
        """A 0-d int64 tensor of an int or SymInt."""
        return self.sym(value) if isinstance(value, SymInt) else self.scalar(value, numpy.int64)

    def unsqueeze0(self, name):
        return self.node("Unsqueeze", [name, self.constant(numpy.array([0], dtype=numpy.int64), "axes")])

    def sym(self, value):
        """The 0-d int64 value computing a SymInt."""
        expr = value.expr
        if expr[0] == "dim":
            _, source, axis = expr
            shape = self.node("Shape", [source])
            return self.node("Gather", [shape, self.scalar(axis, numpy.int64)], axis=0)
        op, left, right = expr
        a, b = self.int_scalar(left), self.int_scalar(right)
        if op == "FloorDiv":            # ONNX's Div on integers truncates; sizes are non-negative here
            return self.node("Div", [a, b])
        return self.node(op, [a, b])

    # -- nodes ----------------------------------------------------------------------------------------------
    def node(self, op_type, inputs, outputs=1, domain="", name_hint=None, **attributes):
        """Add a node; its output name (a list of them when outputs > 1). Empty-string inputs are omitted
        optional inputs, as ONNX writes them."""
        helper = _onnx().helper
        if self.opset < 18 and op_type in _AXES_ATTRIBUTE and len(inputs) > 1 and inputs[1]:
            # before opset 18 these reductions take their axes as an attribute, not an input
            attributes["axes"] = [int(a) for a in self.constant_value(inputs[1]).reshape(-1)]
            inputs = inputs[:1]
        outs = [self.fresh(name_hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.fresh("n_" + op_type),
                                           domain=domain or None,
                                           **{k: v for k, v in attributes.items() if v is not None}))
        for o in outs:
            self.live.add(o)
        return outs if outputs > 1 else outs[0]

    def cast(self, name, dtype):
        """`name` cast to an ember dtype's ONNX type."""
        return self.node("Cast", [name], to=onnx_type(dtype))


# reductions whose axes are an attribute before opset 18 (ReduceSum's became an input at opset 13)
_AXES_ATTRIBUTE = {"ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSumExp",
                   "ReduceLogSum", "ReduceSumSquare"}


def host_array(tensor):
    """A tensor's values as a host array to write into the model (bfloat16 as ml_dtypes' array, which
    Tensor.numpy() refuses as PyTorch's does)."""
    t = tensor.detach().cpu()
    return t._array if t.dtype.name == "bfloat16" else t.numpy()


def onnx_type(dtype):
    """The ONNX TensorProto element type of an ember dtype (or a NumPy dtype)."""
    from onnx import TensorProto
    text = repr(dtype).replace("ember.", "")
    table = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE, "float16": TensorProto.FLOAT16,
             "bfloat16": TensorProto.BFLOAT16, "int64": TensorProto.INT64, "int32": TensorProto.INT32,
             "int16": TensorProto.INT16, "int8": TensorProto.INT8, "uint8": TensorProto.UINT8,
             "bool": TensorProto.BOOL, "complex64": TensorProto.COMPLEX64, "complex128": TensorProto.COMPLEX128}
    if text not in table:
        text = numpy.dtype(dtype).name
    return table[text]
