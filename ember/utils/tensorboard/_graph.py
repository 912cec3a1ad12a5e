"""SummaryWriter.add_graph: a TensorBoard GraphDef of the autograd graph that model(*inputs) records.

PyTorch traces the model with torch.jit and writes the TorchScript graph: one node per aten op (aten::linear,
aten::relu ...), constants and integer computations included. ember has no tracer; it runs the model once
(in eval mode, grad enabled) and writes the autograd graph that the run recorded, the graph ember.viz draws:
  - op nodes are grad_fn objects, named by their class (AddmmBackward0, ReluBackward0 ...), so only ops on a
    path from a tensor that requires grad to an output appear (no constants, no integer index arithmetic);
  - inputs are the model's floating-point arguments (`input/<argument name>`, fed to the model as fresh
    leaves that require grad so their path is recorded); an integer argument (embedding indices) is shown
    as an unconnected input node;
  - parameters are `Parameter` nodes named after their attribute (`Net/Linear[fc1]/weight`); a frozen
    parameter (requires_grad=False) records no edge, so it is not shown;
  - outputs are `output/output.<i>` nodes, as PyTorch's;
  - each node sits in the name scope of the innermost module whose forward created it, spelled as PyTorch
    spells it (`Net/Sequential[features]/Conv2d[0]`), found with forward pre-hooks and hooks: a node belongs
    to the module if it became reachable from the module's outputs during its forward;
  - `_output_shapes` is given where ember knows the shape without extra work: outputs of modules and of the
    model, what nodes saved for backward, and the inputs of broadcasting ops.
"""
import contextlib
import inspect

from .._pytree import tensor_leaves

__all__ = ["graph"]


def _reachable(roots, stop=frozenset()):
    """Every node reachable from roots, not descending below the nodes in `stop`."""
    seen, stack = set(), [r for r in roots if r is not None and r not in stop]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node._edges if n is not None and n not in seen and n not in stop)
    return seen


def _roots(tensors):
    return [t.grad_fn for t in tensors if t.grad_fn is not None]


@contextlib.contextmanager
def _scopes(model, owner, shapes):
    """While active, record in owner[node] the scope of the innermost module whose forward created it, and
    in shapes[(node, output_nr)] the shapes of the modules' outputs."""
    from ...nn import Module
    if not isinstance(model, Module):
        yield
        return
    names = {module: scope_name(model, name) for name, module in model.named_modules()}
    before = {}

    def pre_hook(module, args):
        before.setdefault(module, []).append(_reachable(_roots(tensor_leaves(args))))

    def hook(module, args, output):
        known = before[module].pop()
        tensors = tensor_leaves(output)
        for t in tensors:
            if t.grad_fn is not None:
                shapes[(t.grad_fn, t._out_nr)] = tuple(t.shape)
        for node in _reachable(_roots(tensors), stop=known):
            owner.setdefault(node, names[module])

    handles = []
    for module in names:
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _note_shapes(nodes, tensors, shapes):
    """Fill shapes[(node, output_nr)] from tensors that carry their grad_fn and from what nodes saved."""
    from ...autograd.graph import SAVED_INPUT, SAVED_OUTPUT
    for t in tensors:
        if t.grad_fn is not None:
            shapes[(t.grad_fn, t._out_nr)] = tuple(t.shape)
    for node in nodes:
        meta = node.__dict__.get("_out_meta")
        if meta:
            for nr, entry in enumerate(meta):
                if entry is not None:
                    shapes[(node, nr)] = tuple(entry[0])
        saved = node._saved
        if isinstance(saved, tuple):
            for entry in saved:
                if entry is None or not isinstance(entry, tuple):
                    continue
                if entry[0] == SAVED_INPUT and entry[1].grad_fn is not None:
                    shapes.setdefault((entry[1].grad_fn, entry[1]._out_nr), tuple(entry[1].shape))
                elif entry[0] == SAVED_OUTPUT:
                    shapes.setdefault((node, entry[5]), tuple(entry[1].shape))
        in_shapes = node._in_shapes
        if in_shapes:
            for (producer, nr), shape in zip(node._edges, in_shapes):
                if producer is not None and shape is not None:
                    shapes.setdefault((producer, nr), tuple(shape))


def _attributes(node):
    """A node's plain attributes as PyTorch formats a TorchScript node's: str(dict) without quotes."""
    found = {k: v for k, v in sorted(node.__dict__.items())
             if not k.startswith("_") and isinstance(v, (int, float, str, bool, tuple))}
    return str(found).replace("'", " ")


def _argument_names(model, count):
    try:
        params = list(inspect.signature(model.forward if hasattr(model, "forward") else model).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if params and params[-1].kind == inspect.Parameter.VAR_POSITIONAL or len(names) < count:
        names += [f"input.{i + 1}" for i in range(len(names), count)]
    return names[:count]


def graph(model, args, verbose=False, use_strict_trace=True):
    """(GraphDef, RunMetadata) of the autograd graph of model(*args). use_strict_trace is accepted for
    PyTorch's signature; there is no tracer to pass it to."""
    from tensorboard.compat.proto.attr_value_pb2 import AttrValue
    from tensorboard.compat.proto.config_pb2 import RunMetadata
    from tensorboard.compat.proto.graph_pb2 import GraphDef
    from tensorboard.compat.proto.node_def_pb2 import NodeDef
    from tensorboard.compat.proto.step_stats_pb2 import DeviceStepStats, StepStats
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.compat.proto.versions_pb2 import VersionDef

    from ..._tensor import Tensor
    from ...autograd import enable_grad
    from ...autograd.graph import AccumulateGrad
    from ...nn import Module

    if args is None:
        args = ()
    elif isinstance(args, Tensor):
        args = (args,)
    else:
        args = tuple(args)
    fed, input_names = [], {}
    arg_names = _argument_names(model, len(args))
    for name, arg in zip(arg_names, args):
        if isinstance(arg, Tensor) and (arg.is_floating_point() or arg.is_complex()):
            leaf = arg.detach().requires_grad_()
            arg = leaf.clone()                     # a clone: the model may modify its input in place
            input_names[arg.grad_fn] = (f"input/{name}", tuple(leaf.shape))
        elif isinstance(arg, Tensor):
            input_names[object()] = (f"input/{name}", tuple(arg.shape))    # no gradient path: unconnected
        fed.append(arg)

    owner, shapes = {}, {}
    training = model.training if isinstance(model, Module) else None
    if training is not None:
        model.train(False)
    try:
        with enable_grad(), _scopes(model, owner, shapes):
            output = model(*fed)
    finally:
        if training is not None:
            model.train(training)
    outputs = tensor_leaves(output)
    root_scope = scope_name(model, "")
    roots = _roots(outputs)
    nodes = _ordered(roots, _reachable(roots, stop=input_names))   # input clones stand for the inputs
    _note_shapes(nodes, outputs, shapes)
    params = {}
    if isinstance(model, Module):
        for module_name, module in model.named_modules():
            for pname, p in module.named_parameters(recurse=False):
                params.setdefault(id(p), f"{scope_name(model, module_name)}/{pname}")

    def proto(name, op, inputs=(), shape=None, attributes=""):
        attr = {"attr": AttrValue(s=attributes.encode("utf_8"))}
        if shape is not None:
            dims = [TensorShapeProto.Dim(size=int(d)) for d in shape]
            attr["_output_shapes"] = AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))
        return NodeDef(name=name.encode("utf_8"), op=op, input=list(inputs), attr=attr)

    # names first (a node's inputs refer to them), in the order the forward pass created the nodes
    names, used = {}, set()

    def unique(base):
        name, k = base, 0
        while name in used:
            k += 1
            name = f"{base}.{k}"
        used.add(name)
        return name

    for node_or_key, (name, _) in input_names.items():
        names[node_or_key] = unique(name)
    for node in nodes:
        if isinstance(node, AccumulateGrad):
            leaf = node.variable
            names[node] = unique(params.get(id(leaf)) or f"{root_scope}/tensor")
        else:
            names[node] = unique(f"{owner.get(node, root_scope)}/{node.name()}")

    protos = [proto(name, "IO Node", shape=shape) for key, (name, shape) in input_names.items()]
    for node in nodes:
        if isinstance(node, AccumulateGrad):
            leaf = node.variable
            kind = "Parameter" if id(leaf) in params else "Tensor"
            protos.append(proto(names[node], kind, shape=None if leaf is None else tuple(leaf.shape)))
            continue
        inputs = [names[n] + (f":{nr}" if nr else "") for n, nr in node.next_functions if n is not None]
        protos.append(proto(names[node], node.name(), inputs, shapes.get((node, 0)), _attributes(node)))
    for i, t in enumerate(outputs):
        source = [] if t.grad_fn is None else [names[t.grad_fn] + (f":{t._out_nr}" if t._out_nr else "")]
        protos.append(proto(f"output/output.{i + 1}", "IO Node", source, tuple(t.shape)))
    if verbose:
        for p in protos:
            print(p.name, p.op, list(p.input))
    stepstats = RunMetadata(step_stats=StepStats(dev_stats=[DeviceStepStats(device="/device:CPU:0")]))
    return GraphDef(node=protos, versions=VersionDef(producer=22)), stepstats


def scope_name(model, module_name):
    """PyTorch's name scope of a submodule: the model's class, then Class[attribute] per level."""
    from ...nn import Module
    if not isinstance(model, Module):
        return getattr(model, "__name__", type(model).__name__)
    parts, current = [type(model).__name__], model
    for attr in module_name.split(".") if module_name else []:
        current = current._modules[attr]
        parts.append(f"{type(current).__name__}[{attr}]")
    return "/".join(parts)


def _ordered(roots, nodes):
    """The nodes in an order the forward pass could have created them: inputs before their consumers (an
    iterative depth-first post-order from the output roots, arguments in order)."""
    order, done = [], set()
    for start in roots:
        if start in done or start not in nodes:
            continue
        stack = [(start, iter([n for n, _ in start._edges if n is not None and n in nodes]))]
        while stack:
            node, children = stack[-1]
            child = next((c for c in children if c not in done), None)
            if child is None:
                stack.pop()
                if node not in done:
                    done.add(node)
                    order.append(node)
            else:
                stack.append((child, iter([n for n, _ in child._edges if n is not None and n in nodes])))
    return order
