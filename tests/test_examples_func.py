"""Differentiable-programming examples: MAML on sinusoids, a hypergradient learning-rate
tuner, a deep equilibrium layer on MNIST and DSPN set prediction; short runs that must
clearly learn, plus checks of the pieces they are built from."""
import itertools
import os
import sys

import numpy as np
import pytest

import diffprog as dp

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import maml_sinusoid  # noqa: E402
import dspn_sets  # noqa: E402
import deq_mnist  # noqa: E402
from data import mnist_root  # noqa: E402


def test_maml_adapts_where_pretraining_does_not():
    res = maml_sinusoid.main(iterations=700, test_tasks=200, methods=("maml", "pretrained"),
                             verbose=False)
    maml, pre = res["maml"], res["pretrained"]
    assert maml[1][0] < 0.8 * pre[1][0]             # one step from the MAML initialisation
    assert maml[10][0] < 0.6 * maml[0][0]


def test_maml_batched_tasks_equal_one_task_at_a_time():
    """The task-batched inner step gives each task its own gradient step."""
    dp.manual_seed(0)
    model = maml_sinusoid.make_model(hidden=8)
    params = dict(model.named_parameters())
    xs, ys, _, _ = maml_sinusoid.sample_tasks(np.random.default_rng(0), 3, 5, 5)
    fast = maml_sinusoid.adapt(model, params, xs, ys, 2, 0.05)
    for t in range(3):
        one = maml_sinusoid.adapt(model, params, xs[t:t + 1], ys[t:t + 1], 2, 0.05)
        for k in params:
            np.testing.assert_allclose(fast[k][t].detach().numpy(), one[k][0].detach().numpy(),
                                       rtol=1e-5, atol=1e-6)


def test_hypergradient_tuner_escapes_a_bad_learning_rate():
    pytest.importorskip("sklearn")
    import hypergradient_lr
    data = hypergradient_lr.make_data(0)
    tuned, history = hypergradient_lr.train(1e-4, steps=300, data=data)
    fixed, flat = hypergradient_lr.train(1e-4, steps=300, tune=False, data=data)
    assert history[-1] > 10 * 1e-4 and flat[-1] == pytest.approx(1e-4)
    assert tuned > fixed + 0.3 and tuned > 0.7


def test_deq_implicit_gradients_equal_unrolled_ones():
    """The DEQ layer's gradients (implicit function theorem) equal backpropagation
    through enough plain iterations of its cell to converge."""
    dp.manual_seed(0)
    model = deq_mnist.make_model(hidden=16)
    deq = model[0]
    deq.tol = 1e-6
    x, y = dp.randn(8, 784) * 0.3, dp.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    dp.nn.functional.cross_entropy(model(x), y).backward()
    implicit = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    u = deq.inject(x)
    z = dp.zeros(8, 16)
    for _ in range(100):
        z = deq.cell(z, u)
    dp.nn.functional.cross_entropy(model[1](z), y).backward()
    for g, p in zip(implicit, model.parameters()):
        np.testing.assert_allclose(g.numpy(), p.grad.numpy(), rtol=2e-3, atol=1e-5)


def test_deq_mnist_short_run_learns():
    acc = deq_mnist.main(mnist_root(), epochs=1, train_size=2000, test_size=1000, verbose=False)
    assert acc[-1] > 0.75


def test_set_losses_by_brute_force():
    pytest.importorskip("scipy")
    rng = np.random.default_rng(0)
    pred, target = dp.tensor(rng.normal(size=(3, 4, 2))), dp.tensor(rng.normal(size=(3, 4, 2)))
    d = ((pred.numpy()[:, :, None] - target.numpy()[:, None]) ** 2).sum(-1)
    best = [min(np.mean([d[b, i, p[i]] for i in range(4)]) for p in itertools.permutations(range(4)))
            for b in range(3)]
    np.testing.assert_allclose(dspn_sets.hungarian(pred, target).numpy(), best, rtol=1e-12)
    np.testing.assert_allclose(dspn_sets.chamfer(pred, target).numpy(),
                               d.min(2).mean(1) + d.min(1).mean(1), rtol=1e-12)
    # both are set losses: reordering the target changes nothing
    shuffled = target[:, [2, 0, 3, 1]]
    np.testing.assert_allclose(dspn_sets.hungarian(pred, shuffled).numpy(), best, rtol=1e-12)


def test_dspn_learns_and_predicts_sets():
    pytest.importorskip("scipy")
    encoder, decoder = dspn_sets.build("dspn", 5, seed=0)
    untrained = dspn_sets.evaluate(encoder, decoder, 5, sets=200)["hungarian"]
    res = dspn_sets.main(steps=60, n=5, kinds=("dspn",), verbose=False)
    assert res["dspn"]["hungarian"] < 0.1 * untrained
    # the prediction depends on the input set only, not on the order of its points
    target = dspn_sets.polygons(np.random.default_rng(3), 4, 5)
    a, _ = decoder(encoder(target))
    b, _ = decoder(encoder(target[:, [4, 2, 0, 1, 3]]))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_per_sample_gradients_equal_the_loop_and_dp_sgd_learns():
    import per_sample_grads
    res = per_sample_grads.main(mnist_root(), epochs=2, train_size=1000, test_size=1000, verbose=False)
    assert res["difference"] < 1e-5                # vmap's per-sample gradients = the loop's
    assert res["sgd"][-1] > 0.7 and res["dp-sgd"][-1] > 0.4 > res["dp-sgd"][0] - 0.2


def test_ensemble_trained_under_vmap_equals_members_trained_alone():
    import ensembles
    res = ensembles.main(mnist_root(), members=3, hidden=64, epochs=2, train_size=1000,
                         test_size=1000, verbose=False)
    assert res["difference"] < 1e-5
    assert min(res["members"]) > 0.5 and res["ensemble"] > 0.5
