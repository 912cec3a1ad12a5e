"""nn.utils: gradient clipping, parameter vectors, rnn packing, parametrizations."""
from . import rnn
from .clip_grad import *
