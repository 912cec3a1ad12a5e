"""ember's public names against PyTorch's, namespace by namespace (torch, torch.Tensor, torch.nn,
torch.nn.functional, torch.nn.init, torch.linalg, torch.special, torch.optim, torch.optim.lr_scheduler,
torch.autograd, torch.utils.data).

SUPPORTED lists every public torch name ember has, MISSING every one it still lacks (grouped by why),
NOT_API the public-looking names of torch's modules that are imports or internals rather than API. The tests
fail when a supported name disappears from ember, when a name listed missing appears (move it to SUPPORTED),
when torch has a public name in none of the lists, and when ember gains a public top-level name or Tensor
method torch lacks (except EMBER_ONLY's few, each with its reason)."""
import importlib
import subprocess
import sys
import types

import pytest

import ember

NAMESPACES = {"torch": "torch", "nn": "torch.nn", "nn.functional": "torch.nn.functional", "nn.init": "torch.nn.init",
              "linalg": "torch.linalg", "special": "torch.special", "optim": "torch.optim",
              "optim.lr_scheduler": "torch.optim.lr_scheduler", "autograd": "torch.autograd",
              "utils.data": "torch.utils.data"}

# imports of a module's own code (typing helpers, functools.partial ...) are no part of its API
_FOREIGN_MODULES = {"typing", "typing_extensions", "collections.abc", "functools", "weakref", "__future__", "abc",
                    "builtins", "dataclasses", "enum"}


def api_names(module):
    """A module's public callables, classes and constants: no submodules, no documentation strings and dicts
    (torch.linalg.common_notes), no typing helpers imported from the standard library."""
    names = set()
    for name in dir(module):
        if name.startswith("_") or name in ("TYPE_CHECKING", "annotations"):
            continue
        try:
            value = getattr(module, name)
        except Exception:                              # noqa: BLE001 - a lazy attribute that fails to load
            continue
        if isinstance(value, (types.ModuleType, str, dict)):
            continue
        if (isinstance(value, type) or callable(value)) and getattr(value, "__module__", None) in _FOREIGN_MODULES:
            continue
        names.add(name)
    return names


def tensor_names(cls):
    return {name for name in dir(cls) if not name.startswith("_")}


def _modules(key, torch):
    if key == "Tensor":
        return torch.Tensor, ember.Tensor
    theirs = importlib.import_module(NAMESPACES[key])
    ours = ember if key == "torch" else importlib.import_module("ember." + key)
    return theirs, ours


def _has(obj, name):
    try:
        return hasattr(obj, name)
    except Exception:                                  # noqa: BLE001 - a lazy import that fails counts as absent
        return False


# --- the data -----------------------------------------------------------------------------------------------

SUPPORTED = {
    "torch": (
        # legacy typed tensor classes, layouts (ember/_legacy_tensors.py, ember/_layout.py)
        "BFloat16Tensor", "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor",
        "HalfTensor", "IntTensor", "LongTensor", "ShortTensor", "as_strided_", "is_inference", "layout",
        "set_default_tensor_type", "sparse_coo", "sparse_csc", "sparse_csr", "strided",
        # sparse COO tensors (ember/ops/sparse_ops.py, ember/sparse), CSR/CSC (ember/ops/sparse_csr_ops.py)
        "sparse_coo_tensor", "spmm", "sparse_compressed_tensor", "sparse_csc_tensor", "sparse_csr_tensor",
        # mixed precision (ember/amp)
        "GradScaler", "autocast", "autocast_decrement_nesting", "autocast_increment_nesting",
        "clear_autocast_cache", "get_autocast_cpu_dtype", "get_autocast_dtype", "get_autocast_gpu_dtype",
        "is_autocast_cache_enabled", "is_autocast_cpu_enabled", "is_autocast_enabled",
        "set_autocast_cache_enabled", "set_autocast_cpu_dtype", "set_autocast_cpu_enabled", "set_autocast_dtype",
        "set_autocast_enabled", "set_autocast_gpu_dtype",
        # short-time Fourier transform and window functions (ember/ops/short_time_fourier.py, ember/ops/windows.py)
        "bartlett_window", "blackman_window", "hamming_window", "hann_window", "istft", "kaiser_window", "stft",
        "Generator", "Size", "Tensor", "UntypedStorage", "abs", "abs_", "absolute", "acos", "acos_", "acosh",
        "acosh_", "adaptive_avg_pool1d", "adaptive_max_pool1d", "add", "addbmm", "addcdiv", "addcmul",
        "addmm", "addmv", "addmv_", "addr", "adjoint", "affine_grid_generator", "alias_copy", "all",
        "allclose", "alpha_dropout", "alpha_dropout_", "amax", "amin", "aminmax", "angle", "any", "arange",
        "arccos", "arccos_", "arccosh", "arccosh_", "arcsin", "arcsin_", "arcsinh", "arcsinh_", "arctan",
        "arctan2", "arctan_", "arctanh", "arctanh_", "are_deterministic_algorithms_enabled", "argmax",
        "argmin", "argsort", "argwhere", "as_strided", "as_strided_copy", "as_tensor", "asarray", "asin",
        "asin_", "asinh", "asinh_", "atan", "atan2", "atan_", "atanh", "atanh_", "atleast_1d", "atleast_2d",
        "atleast_3d", "avg_pool1d", "baddbmm", "batch_norm", "bernoulli", "bfloat16", "bilinear",
        "binary_cross_entropy_with_logits", "bincount", "binomial", "bitwise_and", "bitwise_left_shift",
        "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "block_diag", "bmm", "bool",
        "broadcast_shapes", "broadcast_tensors", "broadcast_to", "bucketize", "can_cast", "cartesian_prod",
        "cat", "cdist", "cdouble", "ceil", "ceil_", "celu", "celu_", "cfloat", "chain_matmul",
        "channel_shuffle", "channels_last", "channels_last_3d", "cholesky", "cholesky_inverse",
        "cholesky_solve", "chunk", "clamp", "clamp_", "clamp_max", "clamp_max_", "clamp_min", "clamp_min_",
        "clip", "clip_", "clone", "column_stack", "combinations", "compile", "complex", "complex128",
        "complex64", "concat", "concatenate", "conj", "conj_physical", "conj_physical_", "constant_pad_nd",
        "contiguous_format", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
        "conv_transpose3d", "convolution", "copysign", "corrcoef", "cos", "cos_", "cosh", "cosh_",
        "cosine_embedding_loss", "cosine_similarity", "count_nonzero", "cov", "cross", "ctc_loss", "cummax",
        "cummin", "cumprod", "cumsum", "cumulative_trapezoid", "default_generator", "deg2rad", "deg2rad_",
        "det", "detach", "detach_", "detach_copy", "device", "diag", "diag_embed", "diagflat", "diagonal",
        "diagonal_copy", "diagonal_scatter", "diff", "digamma", "dist", "div", "divide", "dot", "double",
        "dropout", "dropout_", "dsplit", "dstack", "dtype", "e", "einsum", "embedding", "embedding_renorm_",
        "empty", "empty_like", "empty_permuted", "empty_strided", "enable_grad", "eq", "equal", "erf", "erf_",
        "erfc", "erfc_", "erfinv", "exp", "exp2", "exp2_", "exp_", "expand_copy", "expm1", "expm1_", "eye",
        "feature_alpha_dropout", "feature_alpha_dropout_", "feature_dropout", "feature_dropout_", "fill",
        "fill_", "finfo", "fix", "fix_", "flatten", "flip", "fliplr", "flipud", "float", "float16", "float32",
        "float64", "float_power", "floor", "floor_", "floor_divide", "fmax", "fmin", "fmod", "frac", "frac_",
        "frexp", "frobenius_norm", "from_numpy", "full", "full_like", "gather", "gcd", "gcd_", "ge", "ger",
        "get_default_device", "get_default_dtype", "get_deterministic_debug_mode", "get_device",
        "get_float32_matmul_precision", "get_num_threads", "get_rng_state", "greater", "greater_equal",
        "grid_sampler", "grid_sampler_2d", "grid_sampler_3d", "group_norm", "gt", "half", "hardshrink",
        "heaviside", "hinge_embedding_loss", "histc", "histogram", "hsplit", "hstack", "hypot", "i0", "i0_", "igamma", "igammac",
        "iinfo", "imag", "index_add", "index_copy", "index_fill", "index_put", "index_put_", "index_reduce",
        "index_select", "inf", "inference_mode", "initial_seed", "inner", "instance_norm", "int", "int16",
        "int32", "int64", "int8", "inverse", "is_anomaly_check_nan_enabled", "is_anomaly_enabled",
        "is_complex", "is_conj", "is_deterministic_algorithms_warn_only_enabled", "is_floating_point",
        "is_grad_enabled", "is_inference_mode_enabled", "is_neg", "is_nonzero", "is_same_size", "is_signed",
        "is_storage", "is_tensor", "isclose", "isfinite", "isin", "isinf", "isnan", "isneginf", "isposinf",
        "isreal", "kl_div", "kron", "kthvalue", "layer_norm", "lcm", "lcm_", "ldexp", "ldexp_", "le", "lerp",
        "less", "less_equal", "lgamma", "linspace", "load", "log", "log10", "log10_", "log1p", "log1p_",
        "log2", "log2_", "log_", "log_softmax", "logaddexp", "logaddexp2", "logcumsumexp", "logdet",
        "logical_and", "logical_not", "logical_or", "logical_xor", "logit", "logit_", "logspace", "logsumexp",
        "long", "lt", "manual_seed", "margin_ranking_loss", "masked_fill", "masked_scatter", "masked_select",
        "matmul", "matrix_exp", "matrix_power", "max", "max_pool1d", "max_pool1d_with_indices", "max_pool2d",
        "max_pool3d", "maximum", "mean", "median", "memory_format", "meshgrid", "min", "minimum", "mm",
        "mode", "moveaxis", "movedim", "msort", "mul", "multinomial", "multiply", "mv", "mvlgamma", "nan",
        "nan_to_num", "nan_to_num_", "nanmean", "nanmedian", "nanquantile", "nansum", "narrow", "narrow_copy",
        "native_channel_shuffle", "ne", "neg", "neg_", "negative", "negative_", "newaxis", "nextafter",
        "no_grad", "nonzero", "norm", "normal", "not_equal", "nuclear_norm", "numel", "ones", "ones_like",
        "outer", "pairwise_distance", "pdist", "permute", "permute_copy", "pi", "pinverse", "pixel_shuffle",
        "pixel_unshuffle", "poisson", "poisson_nll_loss", "polar", "polygamma", "positive", "pow", "prelu",
        "preserve_format", "prod", "promote_types", "put", "qr", "quantile", "rad2deg", "rad2deg_", "rand",
        "rand_like", "randint", "randint_like", "randn", "randn_like", "randperm", "range", "ravel", "real",
        "reciprocal", "reciprocal_", "relu", "relu_", "remainder", "renorm", "repeat_interleave", "reshape",
        "resize_as_", "resolve_conj", "resolve_neg", "result_type", "rms_norm", "roll", "rot90", "round",
        "round_", "row_stack", "rrelu", "rrelu_", "rsqrt", "rsqrt_", "rsub", "save", "scalar_tensor",
        "scatter", "scatter_add", "scatter_reduce", "searchsorted", "seed", "select", "select_copy",
        "select_scatter", "selu", "selu_", "set_anomaly_enabled", "set_default_device", "set_default_dtype",
        "set_deterministic_debug_mode", "set_float32_matmul_precision", "set_grad_enabled", "set_num_threads",
        "set_printoptions", "set_rng_state", "sgn", "short", "sigmoid", "sigmoid_", "sign", "signbit", "sin",
        "sin_", "sinc", "sinc_", "sinh", "sinh_", "slice_copy", "slice_scatter", "slogdet", "softmax", "sort",
        "split", "split_copy", "split_with_sizes", "split_with_sizes_copy", "sqrt", "sqrt_", "square",
        "square_", "squeeze", "squeeze_copy", "stack", "std", "std_mean", "sub", "subtract", "sum", "svd",
        "swapaxes", "swapdims", "t", "t_copy", "take", "take_along_dim", "tan", "tan_", "tanh", "tanh_",
        "tensor", "tensor_split", "tensordot", "threshold", "threshold_", "tile", "topk", "trace",
        "transpose", "transpose_copy", "trapezoid", "trapz", "triangular_solve", "tril", "tril_indices",
        "triplet_margin_loss", "triu", "triu_indices", "true_divide", "trunc", "trunc_", "typename", "uint8",
        "unbind", "unbind_copy", "unflatten", "unfold_copy", "unique", "unique_consecutive", "unravel_index",
        "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes", "unsqueeze", "unsqueeze_copy",
        "use_deterministic_algorithms", "vander", "var", "var_mean", "vdot", "view_as_complex",
        "view_as_complex_copy", "view_as_real", "view_as_real_copy", "view_copy", "vmap", "vsplit", "vstack",
        "where", "xlogy", "xlogy_", "zero_", "zeros", "zeros_like"
    ),
    "nn": (
        "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
        "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AlphaDropout", "AvgPool1d", "AvgPool2d", "AvgPool3d",
        "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Bilinear", "Buffer",
        "CELU", "CTCLoss", "ChannelShuffle", "CircularPad1d", "CircularPad2d", "CircularPad3d",
        "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
        "ConvTranspose2d", "ConvTranspose3d", "CosineEmbeddingLoss", "CosineSimilarity", "CrossEntropyLoss",
        "DataParallel", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "ELU", "Embedding", "EmbeddingBag",
        "FeatureAlphaDropout", "Flatten", "Fold", "FractionalMaxPool2d", "FractionalMaxPool3d", "GELU", "GLU",
        "GRU", "GRUCell", "GaussianNLLLoss", "GroupNorm", "Hardshrink", "Hardsigmoid", "Hardswish",
        "Hardtanh", "HingeEmbeddingLoss", "HuberLoss", "Identity", "InstanceNorm1d", "InstanceNorm2d",
        "InstanceNorm3d", "KLDivLoss", "L1Loss", "LPPool1d", "LPPool2d", "LPPool3d", "LSTM", "LSTMCell",
        "LayerNorm", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d",
        "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
        "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LazyLinear", "LeakyReLU", "Linear",
        "LocalResponseNorm", "LogSigmoid", "LogSoftmax", "MSELoss", "MarginRankingLoss", "MaxPool1d",
        "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "Mish", "Module", "ModuleDict",
        "ModuleList", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss",
        "MultiheadAttention", "NLLLoss", "NLLLoss2d", "PReLU", "PairwiseDistance", "Parameter",
        "ParameterDict", "ParameterList", "PixelShuffle", "PixelUnshuffle", "PoissonNLLLoss", "RMSNorm",
        "RNN", "RNNBase", "RNNCell", "RNNCellBase", "RReLU", "ReLU", "ReLU6", "ReflectionPad1d",
        "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
        "SELU", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "SoftMarginLoss", "Softmax", "Softmax2d",
        "Softmin", "Softplus", "Softshrink", "Softsign", "SyncBatchNorm", "Tanh", "Tanhshrink", "Threshold",
        "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
        "TransformerEncoderLayer", "TripletMarginLoss", "TripletMarginWithDistanceLoss", "Unflatten",
        "Unfold", "UninitializedBuffer", "UninitializedParameter", "Upsample", "UpsamplingBilinear2d",
        "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d"
    ),
    "nn.functional": (
        "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
        "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices",
        "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "affine_grid", "alpha_dropout",
        "avg_pool1d", "avg_pool2d", "avg_pool3d", "batch_norm", "bilinear", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "celu", "celu_", "channel_shuffle", "conv1d", "conv2d", "conv3d",
        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "cosine_embedding_loss",
        "cosine_similarity", "cross_entropy", "ctc_loss", "dropout", "dropout1d", "dropout2d", "dropout3d",
        "elu", "elu_", "embedding", "embedding_bag", "feature_alpha_dropout", "fold", "fractional_max_pool2d",
        "fractional_max_pool2d_with_indices", "fractional_max_pool3d", "fractional_max_pool3d_with_indices",
        "gaussian_nll_loss", "gelu", "glu", "grid_sample", "group_norm", "gumbel_softmax", "hardshrink",
        "hardsigmoid", "hardswish", "hardtanh", "hardtanh_", "hinge_embedding_loss", "huber_loss",
        "instance_norm", "interpolate", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "leaky_relu_",
        "linear", "local_response_norm", "log_softmax", "logsigmoid", "lp_pool1d", "lp_pool2d", "lp_pool3d",
        "margin_ranking_loss", "max_pool1d", "max_pool1d_with_indices", "max_pool2d",
        "max_pool2d_with_indices", "max_pool3d", "max_pool3d_with_indices", "max_unpool1d", "max_unpool2d",
        "max_unpool3d", "mish", "mse_loss", "multi_head_attention_forward", "multi_margin_loss",
        "multilabel_margin_loss", "multilabel_soft_margin_loss", "native_channel_shuffle", "nll_loss",
        "normalize", "one_hot", "pad", "pairwise_distance", "pdist", "pixel_shuffle", "pixel_unshuffle",
        "poisson_nll_loss", "prelu", "relu", "relu6", "relu_", "rms_norm", "rrelu", "rrelu_",
        "scaled_dot_product_attention", "selu", "selu_", "sigmoid", "silu", "smooth_l1_loss",
        "soft_margin_loss", "softmax", "softmin", "softplus", "softshrink", "softsign", "tanh", "tanhshrink",
        "threshold", "threshold_", "triplet_margin_loss", "triplet_margin_with_distance_loss", "unfold",
        "upsample", "upsample_bilinear", "upsample_nearest"
    ),
    "nn.init": (
        "calculate_gain", "constant", "constant_", "dirac", "dirac_", "eye", "eye_", "kaiming_normal",
        "kaiming_normal_", "kaiming_uniform", "kaiming_uniform_", "normal", "normal_", "ones_", "orthogonal",
        "orthogonal_", "sparse", "sparse_", "trunc_normal_", "uniform", "uniform_", "xavier_normal",
        "xavier_normal_", "xavier_uniform", "xavier_uniform_", "zeros_"
    ),
    "linalg": (
        "LinAlgError", "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
        "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr",
        "slogdet", "solve", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander",
        "vecdot", "vector_norm"
    ),
    "special": (
        "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "i0", "i0e",
        "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr",
        "ndtri", "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta"
    ),
    "optim": (
        "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam", "Optimizer",
        "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam"
    ),
    "optim.lr_scheduler": (
        "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "Counter",
        "CyclicLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR",
        "OneCycleLR", "Optimizer", "PolynomialLR", "ReduceLROnPlateau", "SequentialLR", "StepLR", "Tensor",
        "bisect_right"
    ),
    "autograd": (
        "Function", "backward", "detect_anomaly", "enable_grad", "grad", "gradcheck", "gradgradcheck",
        "inference_mode", "no_grad", "set_detect_anomaly", "set_grad_enabled"
    ),
    "utils.data": (
        "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
        "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
        "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert",
        "get_worker_info", "random_split"
    ),
    "Tensor": (
        "istft", "stft",                                  # ember/ops/short_time_fourier.py
        # sparse COO tensors (ember/ops/sparse_ops.py)
        "coalesce", "dense_dim", "indices", "is_coalesced", "is_sparse", "is_sparse_csr", "sparse_dim", "sparse_mask",
        "to_dense", "to_sparse", "to_sparse_coo", "values",
        # sparse CSR/CSC tensors (ember/ops/sparse_csr_ops.py)
        "ccol_indices", "col_indices", "crow_indices", "row_indices", "to_sparse_csc", "to_sparse_csr",
        "H", "T", "abs", "abs_", "absolute", "absolute_", "acos", "acos_", "acosh", "acosh_", "add", "add_",
        "addbmm", "addbmm_", "addcdiv", "addcdiv_", "addcmul", "addcmul_", "addmm", "addmm_", "addmv",
        "addmv_", "addr", "addr_", "adjoint", "all", "allclose", "amax", "amin", "aminmax", "angle", "any",
        "arccos", "arccos_", "arccosh", "arccosh_", "arcsin", "arcsin_", "arcsinh", "arcsinh_", "arctan",
        "arctan2", "arctan2_", "arctan_", "arctanh", "arctanh_", "argmax", "argmin", "argsort", "argwhere",
        "as_strided", "as_strided_", "asin", "asin_", "asinh", "asinh_", "atan", "atan2", "atan2_", "atan_",
        "atanh", "atanh_", "backward", "baddbmm", "baddbmm_", "bernoulli", "bernoulli_", "bfloat16", "bincount",
        "bitwise_and", "bitwise_and_", "bitwise_left_shift", "bitwise_left_shift_", "bitwise_not",
        "bitwise_not_", "bitwise_or", "bitwise_or_", "bitwise_right_shift", "bitwise_right_shift_",
        "bitwise_xor", "bitwise_xor_", "bmm", "bool", "broadcast_to", "byte", "cauchy_", "cdouble", "ceil",
        "ceil_", "cfloat", "char", "cholesky", "cholesky_solve", "chunk", "clamp", "clamp_", "clamp_max",
        "clamp_max_", "clamp_min", "clamp_min_", "clip", "clip_", "clone", "conj", "contiguous", "copy_",
        "copysign", "copysign_", "corrcoef", "cos", "cos_", "cosh", "cosh_", "count_nonzero", "cov", "cpu",
        "cross", "cuda", "cummax", "cummin", "cumprod", "cumprod_", "cumsum", "cumsum_", "data", "data_ptr",
        "deg2rad", "deg2rad_", "det", "detach", "detach_", "device", "diag", "diag_embed", "diagflat",
        "diagonal", "diagonal_scatter", "diff", "digamma", "digamma_", "dim", "dist", "div", "div_", "divide",
        "divide_", "dot", "double", "dsplit", "dtype", "element_size", "eq", "eq_", "equal", "erf", "erf_",
        "erfc", "erfc_", "erfinv", "erfinv_", "exp", "exp2", "exp2_", "exp_", "expand", "expand_as", "expm1",
        "expm1_", "exponential_", "fill_", "fill_diagonal_", "fix", "fix_", "flatten", "flip", "fliplr", "flipud", "float",
        "float_power", "float_power_", "floor", "floor_", "floor_divide", "floor_divide_", "fmax", "fmin",
        "fmod", "fmod_", "frac", "frac_", "frexp", "gather", "gcd", "gcd_", "ge", "ge_", "geometric_", "ger",
        "get_device", "grad", "grad_fn", "greater", "greater_", "greater_equal", "greater_equal_", "gt",
        "gt_", "half", "hardshrink", "heaviside", "heaviside_", "histc", "histogram", "hsplit", "hypot",
        "hypot_", "i0", "i0_", "igamma", "igamma_", "igammac", "igammac_", "imag", "index_add", "index_add_", "index_copy", "index_copy_", "index_fill",
        "index_fill_", "index_put", "index_put_", "index_reduce", "index_reduce_", "index_select", "inner",
        "int", "inverse", "is_complex", "is_conj", "is_contiguous", "is_cpu", "is_cuda", "is_floating_point",
        "is_inference", "is_leaf", "is_meta", "is_neg", "is_nonzero", "is_same_size", "is_signed", "isclose", "isfinite",
        "isinf", "isnan", "isneginf", "isposinf", "isreal", "item", "itemsize", "kron", "kthvalue", "layout",
        "lcm", "lcm_", "ldexp", "ldexp_", "le", "le_", "lerp", "lerp_", "less", "less_", "less_equal",
        "less_equal_", "lgamma", "lgamma_", "log", "log10", "log10_", "log1p", "log1p_", "log2", "log2_",
        "log_", "log_normal_", "log_softmax", "logaddexp", "logaddexp2", "logcumsumexp", "logdet",
        "logical_and", "logical_and_", "logical_not", "logical_not_", "logical_or", "logical_or_",
        "logical_xor", "logical_xor_", "logit", "logit_", "logsumexp", "long", "lt", "lt_", "mH", "mT",
        "masked_fill", "masked_fill_", "masked_scatter", "masked_scatter_", "masked_select", "matmul",
        "matrix_exp", "matrix_power", "max", "maximum", "mean", "median", "min", "minimum", "mm", "mode",
        "moveaxis", "movedim", "msort", "mul", "mul_", "multinomial", "multiply", "multiply_", "mv",
        "mvlgamma", "mvlgamma_", "nan_to_num", "nan_to_num_", "nanmean", "nanmedian", "nanquantile", "nansum",
        "narrow", "narrow_copy", "nbytes", "ndim", "ndimension", "ne", "ne_", "neg", "neg_", "negative",
        "negative_", "nelement", "new", "new_empty", "new_empty_strided", "new_full", "new_ones", "new_tensor", "new_zeros",
        "nextafter", "nextafter_", "nonzero", "norm", "normal_", "not_equal", "not_equal_", "numel", "numpy",
        "outer", "output_nr", "permute", "pinverse", "polygamma", "polygamma_", "positive", "pow", "pow_",
        "prelu", "prod", "put", "put_", "qr", "quantile", "rad2deg", "rad2deg_", "random_", "ravel", "real",
        "reciprocal", "reciprocal_", "register_hook", "register_post_accumulate_grad_hook", "relu", "relu_",
        "remainder", "remainder_", "renorm", "renorm_", "repeat", "repeat_interleave", "requires_grad",
        "requires_grad_", "reshape", "reshape_as", "resize_", "resize_as_", "resolve_conj", "resolve_neg",
        "retain_grad", "retains_grad", "roll", "rot90", "round", "round_", "rsqrt", "rsqrt_", "scatter",
        "scatter_", "scatter_add", "scatter_add_", "scatter_reduce", "scatter_reduce_", "select",
        "select_scatter", "set_", "sgn", "sgn_", "shape", "short", "sigmoid", "sigmoid_", "sign", "sign_",
        "signbit", "sin", "sin_", "sinc", "sinc_", "sinh", "sinh_", "size", "slice_scatter", "slogdet",
        "softmax", "sort", "split", "split_with_sizes", "sqrt", "sqrt_", "square", "square_", "squeeze",
        "squeeze_", "std", "storage_offset", "stride", "sub", "sub_", "subtract", "subtract_", "sum",
        "sum_to_size", "svd", "swapaxes", "swapaxes_", "swapdims", "swapdims_", "t", "t_", "take",
        "take_along_dim", "tan", "tan_", "tanh", "tanh_", "tensor_split", "tile", "to", "tolist", "topk",
        "trace", "transpose", "transpose_", "tril", "tril_", "triu", "triu_", "true_divide", "true_divide_",
        "trunc", "trunc_", "type", "type_as", "unbind", "unflatten", "unfold", "uniform_", "unique",
        "unique_consecutive", "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes", "unsqueeze",
        "unsqueeze_", "untyped_storage", "var", "vdot", "view", "view_as", "vsplit", "where", "xlogy",
        "xlogy_", "zero_"
    ),
}

MISSING = {
    "torch": {
        "backend kernels (cuDNN, MIOpen, MKL-DNN, native_*), build flags, streams and events": (
            "AVG", "AcceleratorError", "Event", "FatalError", "OutOfMemoryError", "SUM", "Stream",
            "USE_GLOBAL_DEPS", "USE_RTLD_GLOBAL_WITH_LIBTORCH", "batch_norm_backward_elemt",
            "batch_norm_backward_reduce", "batch_norm_elemt", "batch_norm_gather_stats",
            "batch_norm_gather_stats_with_counts", "batch_norm_stats", "batch_norm_update_stats",
            "compiled_with_cxx11_abi", "cudnn_affine_grid_generator", "cudnn_batch_norm", "cudnn_convolution",
            "cudnn_convolution_add_relu", "cudnn_convolution_relu", "cudnn_convolution_transpose",
            "cudnn_grid_sampler", "cudnn_is_acceptable", "get_device_module", "get_file_path",
            "get_num_interop_threads", "has_lapack", "has_mkl", "has_openmp", "has_spectral",
            "init_num_threads", "is_vulkan_available", "miopen_batch_norm", "miopen_convolution",
            "miopen_convolution_add_relu", "miopen_convolution_relu", "miopen_convolution_transpose",
            "miopen_ctc_loss", "miopen_depthwise_convolution", "miopen_rnn", "mkldnn_adaptive_avg_pool2d",
            "mkldnn_convolution", "mkldnn_linear_backward_weights", "mkldnn_max_pool2d", "mkldnn_max_pool3d",
            "mkldnn_rnn_layer", "native_batch_norm", "native_dropout", "native_group_norm",
            "native_layer_norm", "native_norm", "prepare_multiprocessing_environment",
            "profiler_allow_cudagraph_cupti_lazy_reinit_cuda12", "set_flush_denormal",
            "set_num_interop_threads"
        ),
        "TorchScript and dispatcher internals (torch._C types, IR tools)": (
            "AggregationType", "AliasDb", "AnyType", "Argument", "ArgumentSpec", "AwaitType",
            "BenchmarkConfig", "BenchmarkExecutionStats", "Block", "BoolType", "BufferDict", "CallStack",
            "Capsule", "ClassType", "Code", "CompilationUnit", "CompleteArgumentSpec", "ComplexType",
            "ConcreteModuleType", "ConcreteModuleTypeBuilder", "DeepCopyMemoTable",
            "DeserializationStorageContext", "DeviceObjType", "DictType", "DisableTorchFunction",
            "DisableTorchFunctionSubclass", "DispatchKey", "DispatchKeySet", "EnumType", "ErrorReport",
            "ExcludeDispatchKeyGuard", "ExecutionPlan", "FileCheck", "FloatType", "FunctionSchema", "Future",
            "FutureType", "Gradient", "Graph", "GraphExecutorState", "IODescriptor", "InferredType",
            "IntType", "InterfaceType", "JITException", "ListType", "LiteScriptModule", "LockingLogger",
            "LoggerBase", "ModuleDict", "Node", "NoneType", "NoopLogger", "NumberType", "OperatorInfo",
            "OptionalType", "PRIVATE_OPS", "ParameterDict", "PyObjectType", "PyTorchFileReader",
            "PyTorchFileWriter", "RRefType", "ScriptClass", "ScriptClassFunction", "ScriptDict",
            "ScriptDictIterator", "ScriptDictKeyIterator", "ScriptFunction", "ScriptList",
            "ScriptListIterator", "ScriptMethod", "ScriptModule", "ScriptModuleSerializer", "ScriptObject",
            "ScriptObjectProperty", "SerializationStorageContext", "StaticModule", "StreamObjType",
            "StringType", "SymBoolType", "SymIntType", "Tag", "TensorType", "ThroughputBenchmark",
            "TracingState", "TupleType", "Type", "UnionType", "Use", "Value", "classproperty", "fork",
            "import_ir_module", "import_ir_module_from_buffer", "merge_type_from_type_comment", "parse_ir",
            "parse_schema", "parse_type_comment", "unify_type_list", "wait"
        ),
        "typed storages (ember has UntypedStorage)": (
            "BFloat16Storage", "BoolStorage", "ByteStorage", "CharStorage", "ComplexDoubleStorage",
            "ComplexFloatStorage", "DoubleStorage", "FloatStorage", "HalfStorage", "IntStorage",
            "LongStorage", "QInt32Storage", "QInt8Storage", "QUInt2x4Storage", "QUInt4x2Storage",
            "QUInt8Storage", "ShortStorage", "Storage", "StorageBase", "TypedStorage"
        ),
        "autocast state of IPU and XLA devices (ember has neither)": (
            "get_autocast_ipu_dtype", "get_autocast_xla_dtype", "is_autocast_ipu_enabled",
            "is_autocast_xla_enabled", "set_autocast_ipu_dtype", "set_autocast_ipu_enabled",
            "set_autocast_xla_dtype", "set_autocast_xla_enabled"
        ),
        "symbolic shapes of torch.compile, and removed functions": (
            "SymBool", "SymFloat", "SymInt", "sym_constrain_range", "sym_constrain_range_for_size",
            "sym_float", "sym_fresh_size", "sym_int", "sym_ite", "sym_max", "sym_min", "sym_not", "sym_sqrt",
            "sym_sum", "symeig"
        ),
        "to do: not thin wrappers of what ember has (windows, fused RNN functions, LU, dlpack, ...)": (
            "as_strided_scatter", "cond", "conv_tbc",
            "eig", "embedding_bag", "from_dlpack", "from_file", "frombuffer", "geqrf", "gradient", "gru",
            "gru_cell", "hash_tensor", "histogramdd",
            "is_distributed", "is_warn_always_enabled",
            "legacy_contiguous_format", "lobpcg", "lstm", "lstm_cell", "lstsq", "lu", "lu_solve", "lu_unpack",
            "matrix_rank", "nonzero_static", "norm_except_dim", "orgqr", "ormqr", "pca_lowrank", "rnn_relu",
            "rnn_relu_cell", "rnn_tanh", "rnn_tanh_cell", "segment_reduce", "set_warn_always",
            "slice_inverse", "solve", "sspaddmm", "svd_lowrank", "thread_safe_generator", "to_dlpack",
            "while_loop"
        ),
        "dtypes ember lacks (uint16/32/64, complex32, float8, sub-byte)": (
            "bit", "bits16", "bits1x8", "bits2x4", "bits4x2", "bits8", "chalf", "complex32",
            "float4_e2m1fn_x2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
            "float8_e8m0fnu", "int1", "int2", "int3", "int4", "int5", "int6", "int7", "uint1", "uint16",
            "uint2", "uint3", "uint32", "uint4", "uint5", "uint6", "uint64", "uint7"
        ),
        "sparse tensors and layouts": (
            "ccol_indices_copy", "col_indices_copy", "crow_indices_copy", "dsmm", "hsmm", "hspmm",
            "indices_copy", "jagged", "resize_as_sparse_", "row_indices_copy", "saddmm", "smm",
            "sparse_bsc", "sparse_bsc_tensor", "sparse_bsr", "sparse_bsr_tensor", "values_copy"
        ),
        "quantization (quantized dtypes, qschemes, fbgemm kernels)": (
            "choose_qparams_optimized", "dequantize", "empty_quantized", "fake_quantize_per_channel_affine",
            "fake_quantize_per_tensor_affine", "fbgemm_linear_fp16_weight",
            "fbgemm_linear_fp16_weight_fp32_activation", "fbgemm_linear_int8_weight",
            "fbgemm_linear_int8_weight_fp32_activation", "fbgemm_linear_quantize_weight",
            "fbgemm_pack_gemm_matrix_fp16", "fbgemm_pack_quantized_matrix", "fused_moving_avg_obs_fake_quant",
            "int_repr", "per_channel_affine", "per_channel_affine_float_qparams", "per_channel_symmetric",
            "per_tensor_affine", "per_tensor_symmetric", "q_per_channel_axis", "q_per_channel_scales",
            "q_per_channel_zero_points", "q_scale", "q_zero_point", "qint32", "qint8", "qscheme",
            "quantize_per_channel", "quantize_per_tensor", "quantize_per_tensor_dynamic",
            "quantized_batch_norm", "quantized_gru", "quantized_gru_cell", "quantized_lstm",
            "quantized_lstm_cell", "quantized_max_pool1d", "quantized_max_pool2d", "quantized_max_pool3d",
            "quantized_rnn_relu_cell", "quantized_rnn_tanh_cell", "quint2x4", "quint4x2", "quint8"
        ),
    },
    "nn": {
        "to do": (
            "AdaptiveLogSoftmaxWithLoss", "Container", "CrossMapLRN2d", "LinearCrossEntropyLoss",
            "LinearCrossEntropyOptions"
        ),
    },
    "nn.functional": {
        "to do": (
            "conv_tbc", "grouped_mm", "linear_cross_entropy", "scaled_grouped_mm", "scaled_mm"
        ),
    },
    "linalg": {
        "to do: LU/LDL/eig/lstsq need decompositions ember lacks; *_ex return LAPACK's info codes": (
            "cholesky_ex", "cond", "eig", "eigvals", "householder_product", "inv_ex", "ldl_factor",
            "ldl_factor_ex", "ldl_solve", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "solve_ex"
        ),
    },
    "special": {
        "to do: Bessel functions and orthogonal polynomials need kernels ember lacks": (
            "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
            "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
            "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
            "legendre_polynomial_p", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
            "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
            "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
            "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "spherical_bessel_j0"
        ),
    },
    "optim": {
        "to do": (
            "Muon", "swap_in_optimizer_params_and_state"
        ),
    },
    "autograd": {
        "to do (Variable, the profiler's types, multithreading flags)": (
            "DeviceType", "NestedIOFunction", "ProfilerActivity", "ProfilerConfig", "ProfilerEvent",
            "ProfilerState", "SavedTensor", "Variable", "enforce_grad_layout_policy",
            "is_multithreading_enabled", "is_tensor_like", "is_view_replay_enabled", "kineto_available",
            "set_multithreading_enabled", "variable"
        ),
    },
    "utils.data": {
        "DataPipes (torchdata's legacy API) and their validation decorators": (
            "DFIterDataPipe", "DataChunk", "IterDataPipe", "MapDataPipe", "argument_validation",
            "functional_datapipe", "guaranteed_datapipes_determinism", "non_deterministic",
            "runtime_validation", "runtime_validation_disabled"
        ),
    },
    "Tensor": {
        "to do": (
            "apply_", "as_strided_scatter", "as_subclass", "chalf", "cholesky_inverse",
            "conj_physical", "conj_physical_", "const_data_ptr", "dim_order", "geqrf",
            "grad_dtype", "hash_tensor", "index",
            "is_set_to", "lu", "lu_solve", "map2_", "map_", "nonzero_static",
            "orgqr", "ormqr", "slice_inverse", "triangular_solve"
        ),
        "sparse and nested tensors": (
            "is_nested", "resize_as_sparse_", "smm", "sparse_resize_", "sparse_resize_and_clear_", "sspaddmm",
            "to_padded_tensor", "to_sparse_bsc", "to_sparse_bsr"
        ),
        "quantization": (
            "dequantize", "int_repr", "is_quantized", "q_per_channel_axis", "q_per_channel_scales",
            "q_per_channel_zero_points", "q_scale", "q_zero_point", "qscheme"
        ),
        "removed or deprecated in PyTorch (they raise there), named tensors": (
            "eig", "lstsq", "name", "reinforce", "resize", "resize_as", "solve", "symeig", "volatile"
        ),
        "other devices, pinned/shared memory, typed storages": (
            "ipu", "is_distributed", "is_ipu", "is_maia", "is_mkldnn", "is_mps", "is_mtia", "is_pinned",
            "is_shared", "is_vulkan", "is_xla", "is_xpu", "module_load", "mtia", "pin_memory",
            "record_stream", "share_memory_", "storage", "storage_type", "to_mkldnn", "xpu"
        ),
    },
}

NOT_API = {
    "nn.functional": {
        "BroadcastingList1": "TorchScript annotation and dispatch helpers",
        "BroadcastingList2": "TorchScript annotation and dispatch helpers",
        "BroadcastingList3": "TorchScript annotation and dispatch helpers",
        "ScalingType": "enums of scaled_mm's low-precision kernels",
        "SwizzleType": "enums of scaled_mm's low-precision kernels",
        "Tensor": "torch.Tensor, imported for annotations",
        "assert_int_or_pair": "TorchScript annotation and dispatch helpers",
        "boolean_dispatch": "TorchScript annotation and dispatch helpers",
        "handle_torch_function": "imported from torch.overrides (__torch_function__)",
        "has_torch_function": "imported from torch.overrides (__torch_function__)",
        "has_torch_function_unary": "imported from torch.overrides (__torch_function__)",
        "has_torch_function_variadic": "imported from torch.overrides (__torch_function__)",
    },
    "nn.init": {
        "Tensor": "torch.Tensor, imported for annotations",
    },
    "special": {
        "Tensor": "torch.Tensor, imported for annotations",
    },
    "optim.lr_scheduler": {
        "inf": "math.inf, imported by the module",
    },
    "autograd": {
        "handle_torch_function": "imported from torch.overrides (__torch_function__)",
        "has_torch_function": "imported from torch.overrides (__torch_function__)",
    },
    "nn": {
        "factory_kwargs": "a helper of torch.nn.modules.utils for module constructors",
    },
}

# ember's public names PyTorch lacks, each with why it is there
EMBER_ONLY = {
    "viz": "ember's autograd-graph drawing (DOT and SVG), the README's walkthrough uses it",
    "examples": "the packaged walkthrough (python -m ember.examples); present once imported",
}
EMBER_ONLY_TENSOR = {}


# --- the tests ------------------------------------------------------------------------------------------------

def _missing(key):
    return {name for names in MISSING.get(key, {}).values() for name in names}


@pytest.mark.parametrize("key", [*NAMESPACES, "Tensor"])
def test_supported_names_exist_in_torch_and_ember(torch, key):
    theirs, ours = _modules(key, torch)
    assert not [n for n in SUPPORTED[key] if not _has(theirs, n)], "listed as supported but not in torch"
    gone = [n for n in SUPPORTED[key] if not _has(ours, n)]
    assert not gone, f"ember lost these {key} names: {gone}"


@pytest.mark.parametrize("key", [*NAMESPACES, "Tensor"])
def test_missing_names_are_still_missing(torch, key):
    theirs, ours = _modules(key, torch)
    assert not [n for n in _missing(key) if not _has(theirs, n)], "listed as missing but not in torch"
    found = sorted(n for n in _missing(key) if _has(ours, n))
    assert not found, f"ember has these {key} names now: move them from MISSING to SUPPORTED: {found}"


@pytest.mark.parametrize("key", [*NAMESPACES, "Tensor"])
def test_lists_cover_every_public_torch_name(torch, key):
    theirs, _ = _modules(key, torch)
    listed = [set(SUPPORTED[key]), _missing(key), set(NOT_API.get(key, {}))]
    assert not (listed[0] & listed[1] or listed[0] & listed[2] or listed[1] & listed[2]), "a name in two lists"
    names = tensor_names(theirs) if key == "Tensor" else api_names(theirs)
    unlisted = sorted(names - set.union(*listed))
    assert not unlisted, f"torch's {key} names in no list (SUPPORTED if ember has them, else MISSING): {unlisted}"


def test_no_top_level_name_torch_lacks(torch):
    extra = sorted(n for n in dir(ember) if not n.startswith("_") and not _has(torch, n) and n not in EMBER_ONLY)
    assert not extra, f"ember names torch lacks (remove them, or add to EMBER_ONLY with a reason): {extra}"


def test_no_functional_name_torch_lacks(torch):
    """ember.nn.functional mirrors torch.nn.functional exactly (cdist is torch.cdist, not F.cdist)."""
    theirs, ours = _modules("nn.functional", torch)
    extra = sorted(n for n in api_names(ours) if not _has(theirs, n))
    assert not extra, f"ember.nn.functional names torch.nn.functional lacks: {extra}"
    assert not hasattr(ember.nn.functional, "cdist")


def test_no_tensor_method_torch_lacks(torch):
    extra = sorted(tensor_names(ember.Tensor) - tensor_names(torch.Tensor) - set(EMBER_ONLY_TENSOR))
    assert not extra, f"Tensor methods torch lacks (remove them, or add to EMBER_ONLY_TENSOR with a reason): {extra}"


def test_removed_accidental_names_stay_removed():
    """Names that were once exported by accident: torch has them only as Tensor methods (or in torch.linalg)."""
    for name in ("contiguous", "expand", "expand_as", "range_", "repeat", "reshape_as", "vector_norm", "view_as",
                 "get_printoptions"):
        assert not hasattr(ember, name), name
    for name in ("contiguous", "expand", "expand_as", "repeat", "reshape_as", "view_as"):
        assert callable(getattr(ember.Tensor, name)), name
    for name in ("celu_", "rrelu_", "selu_", "threshold_", "rsub", "std_mean", "var_mean"):
        assert not hasattr(ember.Tensor, name) and callable(getattr(ember, name)), name
    assert ember.linalg.vector_norm(ember.tensor([3.0, 4.0])).item() == 5.0


def test_aliases_are_the_same_functions():
    assert ember.linalg.matmul is ember.matmul and ember.sin_ is ember.Tensor.sin_
    assert ember.float is ember.float32 and ember.double is ember.float64 and ember.half is ember.float16
    assert ember.long is ember.int64 and ember.int is ember.int32 and ember.short is ember.int16
    assert ember.cfloat is ember.complex64 and ember.cdouble is ember.complex128
    assert ember.vmap is ember.func.vmap
    assert ember.is_tensor(ember.ones(1)) and ember.numel(ember.ones(2, 3)) == 6
    assert ember.get_default_dtype() is ember.float32


def test_dir_lists_lazy_names_without_importing_them():
    assert {"nn", "optim", "func", "save", "load", "vmap", "inf", "newaxis"} <= set(dir(ember))
    code = "import ember, sys; d = dir(ember); print('ember.nn' in sys.modules, 'ember.func' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
