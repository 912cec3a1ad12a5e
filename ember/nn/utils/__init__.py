"""nn.utils: gradient clipping, parameter vectors, rnn packing, parametrizations."""
from . import parametrizations, parametrize, rnn
from .clip_grad import *
from .convert_parameters import parameters_to_vector, vector_to_parameters
