"""All layer classes; each family lives in its own file."""
from .module import *
from .container import *
from .linear import *
from .activation import *
from .loss import *
from .normalization import *
from .dropout import *
from .sparse import *
from .flatten import *
from .conv import *
from .pooling import *
from .padding import *
from .upsampling import *
from .pixelshuffle import *
from .fold import *
from .rnn import *
from .transformer import *
