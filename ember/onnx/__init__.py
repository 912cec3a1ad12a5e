"""ember.onnx: export a model to ONNX without PyTorch (PyTorch 2.13's torch.onnx.export and ONNXProgram).

export() runs one forward call and records it op by op (ember/onnx/_tracer.py); each op becomes ONNX nodes
(ember/onnx/_symbolic.py), parameters and buffers become initializers named as in the state_dict, and Python
control flow is recorded as this call took it. The `onnx` package writes the model (`pip install
'ember[onnx]'`); it is imported when export() is first called. ONNXProgram runs the model in onnxruntime.
"""
import inspect
import os
import warnings

__all__ = ["ONNXProgram", "OnnxExporterError", "TrainingMode", "export", "is_in_onnx_export"]


class OnnxExporterError(RuntimeError):
    """PyTorch's torch.onnx.OnnxExporterError: an export failed."""


class TrainingMode:
    """PyTorch's torch.onnx.TrainingMode: the mode the model is exported in."""
    EVAL = "EVAL"
    PRESERVE = "PRESERVE"
    TRAINING = "TRAINING"


_exporting = False


def is_in_onnx_export():
    """True while export() runs the model's forward."""
    return _exporting


class ONNXProgram:
    """An exported model: `model_proto` (onnx.ModelProto), `save(path)`, and calling it runs it in onnxruntime
    (inputs: ember tensors or NumPy arrays; outputs: ember tensors)."""

    def __init__(self, model_proto, input_names, output_names):
        self.model_proto = model_proto
        self._input_names = list(input_names)
        self._output_names = list(output_names)
        self._session = None

    @property
    def model(self):
        return self.model_proto

    def save(self, destination, *, include_initializers=True, keep_initializers_as_inputs=False,
             external_data=None):
        """Write the model to a file (one file: the weights inside unless they pass 2 GB or external_data)."""
        import onnx
        path = os.fspath(destination)
        large = self.model_proto.ByteSize() > 2 ** 31 - 1
        if external_data or large:
            onnx.save_model(self.model_proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=os.path.basename(path) + ".data", size_threshold=0)
            onnx.load_external_data_for_model(self.model_proto, os.path.dirname(os.path.abspath(path)))
        else:
            onnx.save_model(self.model_proto, path)

    def initialize_inference_session(self, initializer=None):
        import onnxruntime
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(self.model_proto.SerializeToString(), options,
                                                     providers=["CPUExecutionProvider"])

    def release(self):
        self._session = None

    def __call__(self, *args, **kwargs):
        import numpy

        from .. import from_numpy
        from .._tensor import Tensor
        if self._session is None:
            self.initialize_inference_session()
        values = []
        for a in args:                      # tensors and arrays, nested in lists and tuples as export took them
            values += [x for x in a] if isinstance(a, (list, tuple)) else [a]
        values += [kwargs[n] for n in self._input_names if n in kwargs]
        feed = {}
        for name, value in zip(self._input_names, values):
            feed[name] = value.detach().cpu().numpy() if isinstance(value, Tensor) else numpy.asarray(value)
        return [from_numpy(numpy.asarray(out)) for out in self._session.run(None, feed)]

    def __repr__(self):
        graph = self.model_proto.graph
        return (f"ONNXProgram(inputs={self._input_names}, outputs={self._output_names}, nodes={len(graph.node)}, "
                f"initializers={len(graph.initializer)})")


def _flat(value, what):
    from .._tensor import Tensor
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v, what)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flat(v, what)]
    if value is None:
        return []
    raise OnnxExporterError(f"ember.onnx.export: the model's {what} holds a {type(value).__name__}; ONNX graphs "
                            "take and return tensors (and lists, tuples, dicts of them)")


def _dynamic_dims(dynamic_axes, dynamic_shapes, input_names, output_names, signature_names):
    """{value name: {axis: symbol}} from dynamic_axes, or from dynamic_shapes (by input position or name)."""
    dims = {}
    if dynamic_axes:
        for name, axes in dynamic_axes.items():
            if name not in input_names and name not in output_names:
                raise OnnxExporterError(f"ember.onnx.export: dynamic_axes names {name!r}, which is neither an input "
                                        f"({input_names}) nor an output ({output_names})")
            if isinstance(axes, dict):
                dims[name] = {int(a): str(s) for a, s in axes.items()}
            else:
                dims[name] = {int(a): f"{name}_dynamic_axes_{int(a) + 1}" for a in axes}
    if dynamic_shapes:
        items = (dynamic_shapes.items() if isinstance(dynamic_shapes, dict)
                 else zip(signature_names, dynamic_shapes))
        by_position = dict(zip(signature_names, input_names))
        for key, spec in items:
            name = by_position.get(key, key)
            if spec is None:
                continue
            if isinstance(spec, (list, tuple)):
                spec = {i: s for i, s in enumerate(spec) if s is not None}
            entry = dims.setdefault(name, {})
            for axis, dim in spec.items():
                entry[int(axis)] = getattr(dim, "__name__", None) or str(dim) if not isinstance(dim, str) else dim
    return dims


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None, custom_translation_table=None,
           report=False, optimize=True, verify=False, profile=False, dump_exported_program=False,
           artifacts_dir=".", export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None,
           training=TrainingMode.EVAL, operator_export_type=None, do_constant_folding=True, custom_opsets=None,
           export_modules_as_functions=False, autograd_inlining=True):
    """Export `model` called on `args` (and `kwargs`) to ONNX; returns an ONNXProgram and writes `f` when given.

    dynamic_axes ({"x": {0: "batch"}}) or dynamic_shapes ({"x": {0: ember.export.Dim("batch")}}, by forward's
    parameter names or positions) make those dimensions symbolic; sizes read from tensors in forward then
    follow them. opset_version: 17 to 21 (18 by default)."""
    global _exporting
    try:
        import onnx
    except ImportError as error:
        raise OnnxExporterError("ember.onnx.export needs the onnx package: pip install 'ember[onnx]' "
                                "(or pip install onnx)") from error
    from .. import no_grad
    from .._tensor import Tensor
    from ..nn.modules.module import Module
    from . import _symbolic  # noqa: F401  (registers the converters)
    from ._graph import Graph, host_array, onnx_type
    from ._tracer import Tracer, UnsupportedOp, tracing

    opset = 18 if opset_version is None else int(opset_version)
    if not 17 <= opset <= 21:
        raise OnnxExporterError(f"ember.onnx.export: opset_version {opset} is not supported (17 to 21)")
    if isinstance(args, Tensor) or not isinstance(args, tuple):
        args = (args,)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict) and not kwargs:          # PyTorch's legacy (args..., {kwargs})
        args, kwargs = args[:-1], dict(args[-1])
    forward = model.forward if isinstance(model, Module) else model
    try:
        params = [p for p in inspect.signature(forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        signature_names = [p.name for p in params]
    except (TypeError, ValueError):
        signature_names = []
    flat_inputs = []              # (tensor, default name)
    for i, a in enumerate(args):
        base = signature_names[i] if i < len(signature_names) else f"input_{i}"
        tensors = _flat(a, "inputs")
        flat_inputs += [(t, base if len(tensors) == 1 else f"{base}_{j}") for j, t in enumerate(tensors)]
    for key, a in kwargs.items():
        tensors = _flat(a, "inputs")
        flat_inputs += [(t, key if len(tensors) == 1 else f"{key}_{j}") for j, t in enumerate(tensors)]
    names = list(input_names or [])
    if len(names) > len(flat_inputs):
        raise OnnxExporterError(f"ember.onnx.export: {len(names)} input_names for {len(flat_inputs)} tensor inputs")
    names += [n for _, n in flat_inputs[len(names):]]

    graph = Graph(opset)
    dims = _dynamic_dims(dynamic_axes, dynamic_shapes, names, list(output_names or []), signature_names)
    graph.dynamic = bool(dims)
    helper = onnx.helper
    for (tensor, _), name in zip(flat_inputs, names):
        graph.used.add(name)
        graph.bind(tensor, name)
        shape = [dims.get(name, {}).get(axis, size) for axis, size in enumerate(tensor.shape)]
        graph.inputs.append(helper.make_tensor_value_info(name, onnx_type(tensor.dtype), shape))

    module_names = {}
    was_training = None
    if isinstance(model, Module):
        module_names = {id(m): n for n, m in model.named_modules()}
        for pname, p in list(model.named_parameters()) + list(model.named_buffers()):
            if id(p) in graph.names:
                continue
            name = graph.fresh(pname)
            if export_params:
                graph.initializer(host_array(p), name)
            else:
                graph.inputs.append(helper.make_tensor_value_info(name, onnx_type(p.dtype), list(p.shape)))
            graph.bind(p, name)
        if training == TrainingMode.EVAL:
            was_training = model.training
            model.train(False)
        elif training == TrainingMode.TRAINING:
            was_training = model.training
            model.train(True)
    tracer = Tracer(graph, module_names)
    _exporting = True
    try:
        with no_grad(), warnings.catch_warnings():
            warnings.simplefilter("default")
            with tracing(tracer):
                out = model(*args, **kwargs)
    except UnsupportedOp as error:
        raise OnnxExporterError(str(error)) from None
    finally:
        _exporting = False
        if was_training is not None:
            model.train(was_training)

    outputs = _flat(out, "outputs")
    out_names = list(output_names or [])
    if len(out_names) > len(outputs):
        raise OnnxExporterError(f"ember.onnx.export: {len(out_names)} output_names for {len(outputs)} outputs")
    out_names += ["output" if len(outputs) == 1 else f"output_{i}" for i in range(len(out_names), len(outputs))]
    value_infos = []
    for tensor, name in zip(outputs, out_names):
        source = graph.name_of(tensor)
        graph.nodes.append(helper.make_node("Identity", [source], [name], name=graph.fresh("n_output")))
        shape = [dims.get(name, {}).get(axis) or (size if not dims else None) for axis, size in enumerate(tensor.shape)]
        value_infos.append(helper.make_tensor_value_info(name, onnx_type(tensor.dtype), shape))
    used = {name for node in graph.nodes for name in node.input}
    initializers = [i for i in graph.initializers if i.name in used]          # a buffer no op read is left out
    onnx_graph = helper.make_graph(graph.nodes, "main_graph", graph.inputs, value_infos, initializers)
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="ember", producer_version=_version())
    proto.ir_version = min(proto.ir_version, 10)
    program = ONNXProgram(proto, names, out_names)
    if f is not None:
        program.save(f, external_data=None)
    return program


def _version():
    try:
        from importlib.metadata import version
        return version("ember")
    except Exception:
        return "0"
