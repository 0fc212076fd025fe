"""The layers of `diffprog.nn`, one file per family as in PyTorch."""
from .module import Module  # noqa: F401
from .container import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .graph import *  # noqa: F401,F403
from .rnn_dropout import *  # noqa: F401,F403
