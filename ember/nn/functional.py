"""ember.nn.functional (F): the functional forms of layers, activations and losses."""
from ._functional.basic import *
from ._functional.spatial import *
from ._functional.attention import *
