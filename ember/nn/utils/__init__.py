"""nn.utils: gradient clipping, parameter vectors, rnn packing, parametrizations, weight/spectral norm hooks,
conv/linear-batchnorm fusion, skip_init, stateless calls."""
from . import parametrizations, parametrize, prune, rnn, stateless
from .clip_grad import *
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from .init import skip_init
from .memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm
