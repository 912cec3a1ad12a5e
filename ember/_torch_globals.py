"""PyTorch's pickled names and Module attributes, mapped to ember's and back.

A whole nn.Module pickled by PyTorch names torch's classes and functions (torch.nn.modules.linear.Linear,
torch.nn.functional.relu, torch._C._nn.gelu) and stores torch's attribute set (Module.__getstate__). So
that `ember.load(..., weights_only=False)` builds ember's modules from such a file and
`torch.load(..., weights_only=False)` builds torch's from a file ember.save wrote, this file holds:

  * torch_name(obj): the (module, qualname) PyTorch pickles for an ember class or function, or None;
  * ember_object(module, name): the ember object behind a torch.* global, or None (used by the
    trusted loader, ember/_trusted_unpickler.py, never by the weights-only one);
  * module_state_for_torch / module_state_from_torch: an ember Module's __dict__ <-> the state
    torch's Module pickles (the base hooks torch has and ember has not, RNN flat weights, ...).
"""
import collections
import warnings

# Where PyTorch defines each nn.Module class: the module path its pickles name (checked against torch
# by tests/test_serialization_trusted.py). A class missing here is written as torch.nn.<Name>.
_NN_CLASSES = {
    "activation": "CELU ELU GELU GLU Hardshrink Hardsigmoid Hardswish Hardtanh LeakyReLU LogSigmoid LogSoftmax Mish "
                  "MultiheadAttention PReLU RReLU ReLU ReLU6 SELU SiLU Sigmoid Softmax Softmax2d Softmin Softplus "
                  "Softshrink Softsign Tanh Tanhshrink Threshold",
    "batchnorm": "BatchNorm1d BatchNorm2d BatchNorm3d LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d SyncBatchNorm",
    "channelshuffle": "ChannelShuffle",
    "container": "ModuleDict ModuleList ParameterDict ParameterList Sequential",
    "conv": "Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d LazyConv1d LazyConv2d LazyConv3d "
            "LazyConvTranspose1d LazyConvTranspose2d LazyConvTranspose3d",
    "distance": "CosineSimilarity PairwiseDistance",
    "dropout": "AlphaDropout Dropout Dropout1d Dropout2d Dropout3d FeatureAlphaDropout",
    "flatten": "Flatten Unflatten",
    "fold": "Fold Unfold",
    "instancenorm": "InstanceNorm1d InstanceNorm2d InstanceNorm3d LazyInstanceNorm1d LazyInstanceNorm2d "
                    "LazyInstanceNorm3d",
    "linear": "Bilinear Identity LazyLinear Linear NonDynamicallyQuantizableLinear",
    "loss": "BCELoss BCEWithLogitsLoss CTCLoss CosineEmbeddingLoss CrossEntropyLoss GaussianNLLLoss HingeEmbeddingLoss "
            "HuberLoss KLDivLoss L1Loss MSELoss MarginRankingLoss MultiLabelMarginLoss MultiLabelSoftMarginLoss "
            "MultiMarginLoss NLLLoss NLLLoss2d PoissonNLLLoss SmoothL1Loss SoftMarginLoss TripletMarginLoss "
            "TripletMarginWithDistanceLoss",
    "module": "Module",
    "normalization": "GroupNorm LayerNorm LocalResponseNorm RMSNorm",
    "padding": "CircularPad1d CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d ConstantPad3d ReflectionPad1d "
               "ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d ReplicationPad3d ZeroPad1d "
               "ZeroPad2d ZeroPad3d",
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "pooling": "AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d "
               "AdaptiveMaxPool3d AvgPool1d AvgPool2d AvgPool3d FractionalMaxPool2d FractionalMaxPool3d LPPool1d "
               "LPPool2d LPPool3d MaxPool1d MaxPool2d MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d",
    "rnn": "GRU GRUCell LSTM LSTMCell RNN RNNBase RNNCell RNNCellBase",
    "sparse": "Embedding EmbeddingBag",
    "transformer": "Transformer TransformerDecoder TransformerDecoderLayer TransformerEncoder TransformerEncoderLayer",
    "upsampling": "Upsample UpsamplingBilinear2d UpsamplingNearest2d",
}
NN_CLASS_PATHS = {name: f"torch.nn.modules.{module}" for module, names in _NN_CLASSES.items() for name in names.split()}
NN_CLASS_PATHS["DataParallel"] = "torch.nn.parallel.data_parallel"
# Likewise for the optimizers (lr schedulers are defined in torch.optim.lr_scheduler itself).
OPTIM_CLASS_PATHS = {name: f"torch.optim.{module}" for name, module in (
    ("Optimizer", "optimizer"), ("Adadelta", "adadelta"), ("Adagrad", "adagrad"), ("Adam", "adam"),
    ("Adamax", "adamax"), ("AdamW", "adamw"), ("ASGD", "asgd"), ("LBFGS", "lbfgs"), ("NAdam", "nadam"),
    ("RAdam", "radam"), ("RMSprop", "rmsprop"), ("Rprop", "rprop"), ("SGD", "sgd"), ("SparseAdam", "sparse_adam"))}

# torch globals whose ember counterpart has another name or place.
_ALIASES = {"torch.nn.modules.linear._LinearWithBias": ("nn.modules.transformer", "NonDynamicallyQuantizableLinear"),
            "torch.nn.modules.linear.NonDynamicallyQuantizableLinear":
                ("nn.modules.transformer", "NonDynamicallyQuantizableLinear"),
            "torch.serialization._get_layout": ("_layout", "_get_layout")}     # torch.strided's pickle
# torch modules whose names live in another ember namespace (searched before the parallel ember path).
_MODULE_ALIASES = {"torch._C._nn": "nn.functional", "torch._C._VariableFunctions": "", "torch._C._linalg": "linalg",
                   "torch._C._special": "special", "torch._C._fft": "fft", "torch._C": "", "torch._tensor": "",
                   "torch.functional": "", "torch.nn.parameter": "nn"}
# ember namespace -> the torch module that exposes the same names (order: the first one naming an object wins).
_NAMESPACES = (("nn.functional", "torch.nn.functional"), ("nn.init", "torch.nn.init"),
               ("optim.lr_scheduler", "torch.optim.lr_scheduler"), ("optim", "torch.optim"),
               ("linalg", "torch.linalg"), ("special", "torch.special"), ("fft", "torch.fft"), ("sparse", "torch.sparse"),
               ("utils.data", "torch.utils.data"), ("nn.utils", "torch.nn.utils"), ("nn", "torch.nn"),
               ("cuda", "torch.cuda"), ("", "torch"))          # ember.cuda.FloatTensor: torch.cuda's
# Names an ember namespace has but the torch one it mirrors does not (none at present).
_NOT_IN_TORCH = {}
_EXACT = {"Tensor": ("torch", "Tensor"), "Size": ("torch", "Size"), "device": ("torch", "device"),
          "dtype": ("torch", "dtype"), "Parameter": ("torch.nn.parameter", "Parameter"),
          "Buffer": ("torch.nn.parameter", "Buffer"),
          "UninitializedParameter": ("torch.nn.parameter", "UninitializedParameter"),
          "UninitializedBuffer": ("torch.nn.parameter", "UninitializedBuffer")}
_TABLE = {}                                       # id(ember object) -> (torch module, name); built on first use
_BUILT = []


def _ember_module(path):
    """ember.<path> (ember itself for ''), or None when there is no such module or attribute."""
    import importlib
    try:
        return importlib.import_module(f"ember.{path}" if path else "ember")
    except (ImportError, ValueError, TypeError):     # no such ember module (or a malformed name)
        return None


def _is_ember(obj):
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and (module == "ember" or module.startswith("ember."))


def _build_table(import_all):
    """Fill _TABLE from the ember namespaces already imported, or (import_all) from all of them."""
    import sys
    table = {}
    nn = _ember_module("nn")
    from ._tensor import Size, Tensor
    for name, where in _EXACT.items():
        obj = {"Tensor": Tensor, "Size": Size}.get(name) or getattr(nn, name, None) or getattr(
            _ember_module(""), name, None)
        if obj is not None:
            table[id(obj)] = where
    transformer = _ember_module("nn.modules.transformer")
    for name, path in list(NN_CLASS_PATHS.items()):
        cls = getattr(nn, name, None) or getattr(transformer, name, None)
        if isinstance(cls, type) and _is_ember(cls):
            table.setdefault(id(cls), (path, name))
    optim = sys.modules.get("ember.optim")
    for name, path in OPTIM_CLASS_PATHS.items():
        cls = getattr(optim, name, None)
        if isinstance(cls, type) and _is_ember(cls):
            table.setdefault(id(cls), (path, name))
    for ember_path, torch_path in _NAMESPACES:
        loaded = sys.modules.get(f"ember.{ember_path}" if ember_path else "ember")
        namespace = _ember_module(ember_path) if import_all else loaded
        if namespace is None:
            continue
        public = getattr(namespace, "__all__", None)       # without __all__: every public callable of ember's
        skip = _NOT_IN_TORCH.get(ember_path, ())
        for name, obj in list(vars(namespace).items()):
            if (name.startswith("_") or name in skip or (public is not None and name not in public)
                    or not callable(obj) or not _is_ember(obj)):
                continue
            current = table.get(id(obj))         # an alias keeps the name the object itself has
            if current is None or (current[0] == torch_path and getattr(obj, "__name__", None) == name):
                table[id(obj)] = (torch_path, name)
    _TABLE.clear()
    _TABLE.update(table)
    _BUILT.append(import_all)


def torch_name(obj):
    """The (module, name) PyTorch pickles for this ember class or function; None for anything else."""
    if not _is_ember(obj):
        return None
    if not _BUILT:
        _build_table(False)
    found = _TABLE.get(id(obj))
    if found is None and not _BUILT[-1]:          # its namespace may not be imported yet: look everywhere, once
        _build_table(True)
        found = _TABLE.get(id(obj))
    return found


def torch_dotted_name(obj):
    found = torch_name(obj)
    return None if found is None else f"{found[0]}.{found[1]}"


def ember_object(module, name):
    """The ember counterpart of the torch global `module.name`, or None when ember has none."""
    alias = _ALIASES.get(f"{module}.{name}")
    if alias is not None:
        module, name = alias
        return getattr(_ember_module(module), name, None)
    candidates = []
    if module.startswith("torch.nn.modules.") or module == "torch.nn.parallel.data_parallel":
        candidates.append("nn")
    if module in _MODULE_ALIASES:
        candidates.append(_MODULE_ALIASES[module])
    parts = module.split(".")[1:]
    candidates += [".".join(parts[:i]) for i in range(len(parts), -1, -1)]
    for path in candidates:
        found = _ember_module(path)
        for part in name.split("."):
            if found is None or part.startswith("__"):
                found = None
                break
            found = getattr(found, part, None)
        if found is not None and not _is_module_object(found):
            return found
    return None


def _is_module_object(obj):
    return type(obj).__name__ == "module"


# --- Module state: ember's __dict__ <-> what torch's Module pickles ---------------------------------------------

# torch's Module.__init__ order; the three marked None are hooks/flags ember's Module does not keep.
_TORCH_BASE = ("training", "_parameters", "_buffers", "_non_persistent_buffers_set", "_backward_pre_hooks",
               "_backward_hooks", "_is_full_backward_hook", "_forward_hooks", "_forward_hooks_with_kwargs",
               "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
               "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
               "_load_state_dict_post_hooks", "_modules")
_TORCH_ONLY_HOOKS = ("_state_dict_pre_hooks", "_load_state_dict_pre_hooks")


def module_state_for_torch(module, state):
    """A copy of `state` (the module's __dict__) laid out as torch's Module.__getstate__ returns it."""
    out = {}
    for key in _TORCH_BASE:
        if key in state:
            out[key] = state[key]
        elif key == "_is_full_backward_hook":
            out[key] = True if state.get("_backward_hooks") or state.get("_backward_pre_hooks") else None
        elif key in _TORCH_ONLY_HOOKS:
            out[key] = collections.OrderedDict()
    for key, value in state.items():
        out.setdefault(key, value)
    for adapter in _adapters(module, _TO_TORCH):
        adapter(module, out)
    return out


def module_state_from_torch(module, state):
    """`state` (torch's pickled Module state, or ember's own __dict__) made into what ember's Module keeps.

    Changes `state` in place and returns it; ember's own state passes through unchanged.
    """
    state.pop("_is_full_backward_hook", None)
    state.pop("_compiled_call_impl", None)
    for key in _TORCH_ONLY_HOOKS:
        hooks = state.pop(key, None)
        if hooks:
            warnings.warn(f"{type(module).__name__}: dropping {len(hooks)} {key[1:]} from the checkpoint: ember's "
                          "Module has no state_dict pre-hooks", stacklevel=3)
    for adapter in _adapters(module, _FROM_TORCH):
        adapter(module, state)
    return state


def _adapters(module, table):
    seen = []
    for cls in type(module).__mro__:
        adapter = table.get(cls.__name__) if _is_ember(cls) else None
        if adapter is not None and adapter not in seen:
            seen.append(adapter)
    return seen


def _rnn_to_torch(module, state):
    params = state.get("_parameters", {})
    state["_flat_weights"] = [params.get(name) for name in state.get("_flat_weights_names", ())]


def _rnn_from_torch(module, state):
    state.pop("_flat_weights", None)
    state.pop("_flat_weight_refs", None)
    if "all_weights" in state:                   # PyTorch < 1.0 pickles
        state["_all_weights"] = state.pop("all_weights")
    state.setdefault("proj_size", 0)             # PyTorch < 1.8 pickles
    all_weights = state.get("_all_weights")
    if all_weights and not isinstance(all_weights[0][0], str):
        names, groups = [], []
        for layer in range(state["num_layers"]):
            for suffix in ("", "_reverse")[:2 if state["bidirectional"] else 1]:
                group = [f"{w}_l{layer}{suffix}" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                group = group if state["bias"] else group[:2]
                if state["proj_size"] > 0:
                    group.append(f"weight_hr_l{layer}{suffix}")
                groups.append(group)
                names += group
        state["_all_weights"], state["_flat_weights_names"] = groups, names


def _conv_to_torch(module, state):
    if isinstance(state.get("_reversed_padding_repeated_twice"), list):
        state["_reversed_padding_repeated_twice"] = tuple(state["_reversed_padding_repeated_twice"])


def _conv_from_torch(module, state):
    if isinstance(state.get("_reversed_padding_repeated_twice"), tuple):
        state["_reversed_padding_repeated_twice"] = list(state["_reversed_padding_repeated_twice"])
    state.setdefault("padding_mode", "zeros")


def _relu_or_gelu(activation):
    from .nn import GELU, ReLU
    from .nn import functional as F

    def raw(fn):            # a function the profiler (or ember.onnx's tracer) wrapped: the function itself
        return getattr(fn, "_ember_profiled", fn)
    if raw(activation) is raw(F.relu) or isinstance(activation, ReLU):
        return 1
    if raw(activation) is raw(F.gelu) or isinstance(activation, GELU):
        return 2
    return 0


def _encoder_layer_to_torch(module, state):
    state["activation_relu_or_gelu"] = _relu_or_gelu(state.get("activation"))


def _with_activation(module, state):
    state.pop("activation_relu_or_gelu", None)
    if "activation" not in state:
        from .nn import functional as F
        state["activation"] = F.relu


def _encoder_to_torch(module, state):
    # torch's TransformerEncoder.__init__ rule for its nested-tensor fast path
    layers = state.get("_modules", {}).get("layers")
    layer = layers[0] if layers is not None and len(layers) else None
    use = bool(state.get("enable_nested_tensor", True)) and layer is not None
    if use:
        from .nn import TransformerEncoderLayer
        attn = layer.self_attn
        use = (isinstance(layer, TransformerEncoderLayer) and not layer.norm_first and attn.batch_first
               and attn._qkv_same_embed_dim and attn.in_proj_bias is not None
               and _relu_or_gelu(layer.activation) != 0 and layer.norm1.eps == layer.norm2.eps
               and attn.num_heads % 2 == 0)
    state["use_nested_tensor"] = use


def _encoder_from_torch(module, state):
    state.pop("use_nested_tensor", None)


def _defaults(**defaults):
    def adapter(module, state):
        for key, value in defaults.items():
            state.setdefault(key, value)
    return adapter


_TO_TORCH = {"RNNBase": _rnn_to_torch, "_ConvNd": _conv_to_torch, "TransformerEncoderLayer": _encoder_layer_to_torch,
             "TransformerEncoder": _encoder_to_torch}
# Defaults for attributes that older PyTorch versions did not pickle (as torch's own __setstate__ methods set them).
_FROM_TORCH = {"RNNBase": _rnn_from_torch, "_ConvNd": _conv_from_torch, "TransformerEncoderLayer": _with_activation,
               "TransformerDecoderLayer": _with_activation, "TransformerEncoder": _encoder_from_torch,
               "MultiheadAttention": _defaults(_qkv_same_embed_dim=True), "Softmax": _defaults(dim=None),
               "Softmin": _defaults(dim=None), "LogSoftmax": _defaults(dim=None),
               "Upsample": _defaults(recompute_scale_factor=True),
               "AvgPool1d": _defaults(padding=0, ceil_mode=False, count_include_pad=True),
               "_AvgPoolNd": _defaults(padding=0, ceil_mode=False, count_include_pad=True)}
