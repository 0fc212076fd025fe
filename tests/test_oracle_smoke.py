import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((), (2, 3)), ((0, 3), (3,))])
def test_mul(shapes):
    check(lambda a, b: a * b, lambda a, b: a * b, rand(*shapes[0]), rand(*shapes[1], seed=7))


def test_exp_sum():
    check(lambda a: a.exp().sum(), lambda a: a.exp().sum(), rand(3, 4))
    check(lambda a: a.exp().sum(1), lambda a: a.exp().sum(1), rand(3, 4, dtype=np.float32))
