"""Every operation, each defined once (see `op.py` for the shape of an op).

Each module lists its public functions in `__all__` and ends with `METHODS`, the names
under which they are also Tensor methods and operators; those are bound onto `Tensor`
here, in one place.
"""
from ..tensor import Tensor
from . import elementwise, reduction, shape, indexing, linalg, softmax, misc

# Listed before the star imports: the function `softmax` shadows the module's name.
_MODULES = (elementwise, reduction, shape, indexing, linalg, softmax, misc)

from .elementwise import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .softmax import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403

for _m in _MODULES:
    for _name, _fn in _m.METHODS.items():
        setattr(Tensor, _name, _fn)
