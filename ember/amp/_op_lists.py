"""Which ops autocast casts, and how, per device type: PyTorch 2.13's lists (aten/src/ATen/autocast_mode.cpp and
autocast_mode.h), by ATen op name. The CPU lists were checked op by op against torch.autocast("cpu")
(tests/amp/test_autocast.py); an op hooked in ember names its ATen op here (`if "mm" in AUTOCAST: ...`).

Policies (what ember.amp._dispatch.autocast_run does with the op's floating-point tensor arguments):
  lower     cast float16/bfloat16/float32 tensors to the region's dtype (bfloat16 on CPU by default)
  fp32      cast them to float32
  fp32_opt  when the first tensor is eligible and no dtype= was given, pass dtype=float32 (softmax, sum ...)
  fp32_dim  when the first tensor is eligible, pass dtype=float32 (torch.norm without a dtype)
  promote   cast them to the widest floating dtype among them (float32 over the region's dtype)
  banned    raise (binary_cross_entropy under CUDA autocast)
float64 tensors and tensors on another device type are never cast.

An entry takes effect only where an ember op carries its hook (tests/cuda/test_cuda_amp.py checks the CUDA
entries op by op). Not hooked: the entries ember has no op for (stft, conv_tbc, lu_solve, geqrf, orgqr/ormqr,
linalg.eig/eigvals/lstsq/cond/householder_product, the *_ex variants, the antialiased upsamplings), and CUDA's
promote entries addcmul, addcdiv, atan2 and cross, whose ordinary type promotion gives the same dtype for the
float16/float32 mixtures autocast makes (they differ only on a float16 + bfloat16 mixture, which promote refuses).
"""

CPU_LOWER = (
    "conv1d", "conv2d", "conv3d", "bmm", "mm", "linalg_vecdot", "baddbmm", "addmm", "addbmm", "linear",
    "matmul", "conv_tbc", "mkldnn_rnn_layer", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "prelu", "scaled_dot_product_attention",
)

CPU_FP32 = (
    "avg_pool3d", "binary_cross_entropy", "grid_sampler", "polar", "prod", "quantile", "nanquantile", "stft",
    "cdist", "trace", "view_as_complex", "cholesky", "cholesky_inverse", "cholesky_solve", "inverse",
    "lu_solve", "orgqr", "ormqr", "pinverse", "max_pool3d", "max_unpool2d", "max_unpool3d",
    "adaptive_avg_pool3d", "reflection_pad1d", "reflection_pad2d", "replication_pad1d", "replication_pad2d",
    "replication_pad3d", "mse_loss", "cosine_embedding_loss", "nll_loss", "nll_loss2d", "hinge_embedding_loss",
    "poisson_nll_loss", "smooth_l1_loss", "cross_entropy_loss", "l1_loss", "huber_loss", "margin_ranking_loss",
    "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss", "ctc_loss", "kl_div",
    "multilabel_margin_loss", "binary_cross_entropy_with_logits", "fft_fft", "fft_ifft", "fft_fft2",
    "fft_ifft2", "fft_fftn", "fft_ifftn", "fft_rfft", "fft_irfft", "fft_rfft2", "fft_irfft2", "fft_rfftn",
    "fft_irfftn", "fft_hfft", "fft_ihfft", "linalg_cond", "linalg_matrix_rank", "linalg_solve",
    "linalg_cholesky", "linalg_svdvals", "linalg_eigvals", "linalg_eigvalsh", "linalg_inv",
    "linalg_householder_product", "linalg_tensorinv", "linalg_tensorsolve", "fake_quantize_per_tensor_affine",
    "geqrf", "_lu_with_info", "qr", "svd", "triangular_solve", "fractional_max_pool2d", "fractional_max_pool3d",
    "adaptive_max_pool3d", "multilabel_margin_loss_forward", "linalg_qr", "linalg_cholesky_ex", "linalg_svd",
    "linalg_eig", "linalg_eigh", "linalg_lstsq", "linalg_inv_ex",
)

CPU_PROMOTE = ("stack", "cat", "index_copy")

CUDA_LOWER = (
    "conv1d", "conv2d", "conv3d", "conv_tbc", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "convolution", "prelu", "addmm", "addmv", "addr", "matmul", "einsum", "mm", "mv", "linalg_vecdot", "linear",
    "addbmm", "baddbmm", "bmm", "chain_matmul", "linalg_multi_dot", "lstm_cell", "gru_cell", "rnn_tanh_cell",
    "rnn_relu_cell", "scaled_dot_product_attention",
    "_cudnn_rnn",                   # nn.LSTM/GRU/RNN on a GPU (PyTorch's cuDNN RNN autocast)
)

CUDA_FP32 = (
    "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal", "rsqrt",
    "sinh", "tan", "pow", "softplus", "layer_norm", "rms_norm", "group_norm", "frobenius_norm", "nuclear_norm",
    "cosine_similarity", "poisson_nll_loss", "cosine_embedding_loss", "nll_loss", "nll_loss2d",
    "hinge_embedding_loss", "kl_div", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss",
    "margin_ranking_loss", "multilabel_margin_loss", "soft_margin_loss", "triplet_margin_loss",
    "multi_margin_loss", "binary_cross_entropy_with_logits", "dist", "pdist", "cdist", "renorm", "logsumexp",
    "upsample_nearest1d", "_upsample_nearest_exact1d", "upsample_nearest2d", "_upsample_nearest_exact2d",
    "upsample_nearest3d", "_upsample_nearest_exact3d", "upsample_linear1d", "upsample_bilinear2d",
    "_upsample_bilinear2d_aa", "upsample_trilinear3d", "upsample_bicubic2d", "_upsample_bicubic2d_aa",
)

CUDA_FP32_OPT = ("prod", "softmax", "log_softmax", "cumprod", "cumsum", "linalg_vector_norm",
                 "linalg_matrix_norm", "sum")

CUDA_FP32_DIM = ("norm",)

CUDA_PROMOTE = ("addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "vdot", "grid_sampler", "index_put",
                "tensordot", "scatter_add")

CUDA_BANNED = ("binary_cross_entropy",)

# Ops ember computes in one primitive where PyTorch's CUDA autocast sees a composite: cross_entropy_loss runs
# log_softmax (fp32_opt) and nll_loss (fp32) there, which is the fp32 policy for the whole op.
CUDA_FP32_COMPOSITE = ("cross_entropy_loss",)


def _table(**policies):
    return {name: policy for policy, names in policies.items() for name in names}


# device type -> {ATen op name -> policy}
POLICIES = {
    "cpu": _table(lower=CPU_LOWER, fp32=CPU_FP32, promote=CPU_PROMOTE),
    "cuda": _table(lower=CUDA_LOWER, fp32=CUDA_FP32 + CUDA_FP32_COMPOSITE, fp32_opt=CUDA_FP32_OPT,
                   fp32_dim=CUDA_FP32_DIM,
                   promote=CUDA_PROMOTE, banned=CUDA_BANNED),
}

BANNED_MESSAGES = {
    "binary_cross_entropy": (
        "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
        "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
        "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
        "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
        "safe to autocast."),
}
