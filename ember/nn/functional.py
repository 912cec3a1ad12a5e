"""ember.nn.functional (F): the functional forms of layers, activations and losses."""
from ._functional.basic import *  # noqa: F403
from ._functional.spatial import *  # noqa: F403
from ._functional.pooling import *  # noqa: F403
from ._functional.resampling import *  # noqa: F403
from ._functional.fractional import *  # noqa: F403
from ._functional.attention import *  # noqa: F403
