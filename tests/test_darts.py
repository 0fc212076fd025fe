"""DARTS: the mixed operation, the search network's two parameter sets, the first-order
architecture gradient, the second-order one against the exact gradient through the unrolled
step (double backward), and the derived genotype."""
import numpy as np

import diffprog as dp
import diffprog.nn.functional as F
from diffprog.models import OPS, Architect, DartsNetwork, FixedNetwork, MixedOp


def test_mixed_op_is_the_weighted_sum_of_its_candidates():
    dp.manual_seed(0)
    prims = ["skip_connect", "conv_3x3", "max_pool_3x3", "none"]
    mixed = MixedOp(4, prims)
    x = dp.randn(2, 4, 6, 6)
    w = dp.tensor([0.1, 0.5, 0.3, 0.1])
    expected = sum(wk * op(x) for wk, op in zip(w, mixed.ops))
    np.testing.assert_allclose(mixed(x, w).detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    one_hot = mixed(x, dp.tensor([0.0, 0.0, 1.0, 0.0]))
    np.testing.assert_allclose(one_hot.detach().numpy(), F.max_pool2d(x, 3, 1, 1).numpy(), rtol=1e-6)
    assert set(OPS) >= set(prims)


def test_search_network_keeps_alpha_apart():
    dp.manual_seed(0)
    net = DartsNetwork(channels=4, n_cells=2, n_nodes=3)
    assert net.alpha.shape == (6, len(OPS))                 # edges 1 + 2 + 3
    assert all(p is not net.alpha for p in net.weights())
    assert len(net.weights()) + 1 == len(list(net.parameters()))
    assert net(dp.randn(3, 1, 16, 16)).shape == (3, 10)


def _problem():
    dp.manual_seed(0)
    net = DartsNetwork(channels=3, n_cells=1, n_nodes=2, primitives=("skip_connect", "conv_3x3", "avg_pool_3x3"))
    net = net.double().eval()                               # eval: batch norm is a fixed function
    with dp.no_grad():
        net.alpha.copy_(dp.randn(*net.alpha.shape, dtype=dp.float64))
    data = [dp.randn(6, 1, 8, 8, dtype=dp.float64), dp.randint(0, 10, (6,)),
            dp.randn(6, 1, 8, 8, dtype=dp.float64), dp.randint(0, 10, (6,))]
    return net, data


def test_first_order_gradient_is_the_validation_gradient():
    net, (xt, yt, xv, yv) = _problem()
    got = Architect(net).alpha_grad(xt, yt, xv, yv)[0]
    want = dp.autograd.grad(F.cross_entropy(net(xv), yv), net.alpha)[0]
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_second_order_gradient_matches_differentiating_through_the_unrolled_step():
    """With a small finite-difference radius r (the paper's 0.01 crosses ReLU kinks of this
    tiny network, where gradients jump), the Hessian-vector product is exact to rounding."""
    net, (xt, yt, xv, yv) = _problem()
    xi = 0.1
    approx = Architect(net, unrolled=True, xi=xi, r=1e-5).alpha_grad(xt, yt, xv, yv)[0]

    names = [n for n, p in net.named_parameters() if p is not net.alpha]
    weights = net.weights()
    g = dp.autograd.grad(F.cross_entropy(net(xt), yt), weights, create_graph=True)
    unrolled = {n: w - xi * gw for n, w, gw in zip(names, weights, g)}          # functions of alpha
    saved = {}
    for name, t in unrolled.items():
        *path, attr = name.split(".")
        mod = net.get_submodule(".".join(path))
        saved[(mod, attr)] = mod._parameters[attr]
        mod._parameters[attr] = t
    try:
        exact = dp.autograd.grad(F.cross_entropy(net(xv), yv), net.alpha)[0]
    finally:
        for (mod, attr), p in saved.items():
            mod._parameters[attr] = p
    first = dp.autograd.grad(F.cross_entropy(net(xv), yv), net.alpha)[0]
    assert np.linalg.norm(exact.numpy() - first.numpy()) > 0.1 * np.linalg.norm(first.numpy())   # it matters
    np.testing.assert_allclose(approx.numpy(), exact.numpy(), rtol=1e-4, atol=1e-7)
    for p, w in zip(net.weights(), weights):                                   # weights restored
        assert p is w


def test_architect_step_and_genotype():
    dp.manual_seed(0)
    net = DartsNetwork(channels=3, n_cells=1, n_nodes=3)
    with dp.no_grad():
        net.alpha.zero_()
        net.alpha[:, net.primitives.index("none")] = 5.0     # 'none' is never chosen
        net.alpha[:, net.primitives.index("conv_3x3")] = 1.0
        net.alpha[1, net.primitives.index("max_pool_3x3")] = 3.0
    geno = net.genotype()
    assert len(geno) == 1 + 2 + 2 and all(op != "none" for op, _, _ in geno)
    assert ("max_pool_3x3", 0, 1) in geno and sum(op == "conv_3x3" for op, _, _ in geno) == 4
    before = net.alpha.detach().clone()
    x, y = dp.randn(4, 1, 8, 8), dp.randint(0, 10, (4,))
    Architect(net, unrolled=True).step(x, y, x, y)
    assert not np.allclose(before.numpy(), net.alpha.detach().numpy())
    fixed = FixedNetwork(geno, channels=3, n_cells=1)
    assert fixed(x).shape == (4, 10) and len(fixed.cells[0].ops) == 5
