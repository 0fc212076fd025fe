"""MAML on sinusoid regression (Finn, Abbeel & Levine, 2017): learn an initialisation from
which one gradient step on 10 points fits a new sine wave.

    python examples/maml_sinusoid.py [--iterations 15000] [--meta-batch 25] [--seed 0]

Each task is y = A sin(x - phase), A ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5]; the model
an MLP 1-40-40-1 (ReLU).  MAML's inner loop is one SGD step (lr 0.01) on K = 10 support
points, written with `func.functional_call` (the model run with per-task parameters) and
`func.optim.SGD` (a pure, differentiable step); the outer loss is the MSE on 10 query
points of the same tasks, minimised by Adam (lr 1e-3) over the initial parameters.

* second-order MAML differentiates through the inner step (its gradient taken with a
  graph: a Hessian-vector product per meta-step);
* first-order MAML detaches the inner gradient;
* the pretrained baseline trains the same network on all tasks' points jointly (the
  average sine is ~0), then is fine-tuned the same way at test time.

The tasks of a meta-batch are run in one pass: the parameters are expanded to a leading
task dimension and the layers accept such batched weights (`vmap(functional_call)` would
do this for an unmodified model).

Full run with the defaults (15,000 meta-iterations of 25 tasks, seed 0), on the
development machine (2 cores, 1 BLAS thread, shared with other jobs).  The MSE is on 1,000
new test tasks (100 query points each), mean +- standard error, after 0 / 1 / 10 SGD steps
on K = 10 points:

    second-order MAML  2.976 +- 0.091 / 0.428 +- 0.015 / 0.135 +- 0.007   (265 s)
    first-order MAML   5.012 +- 0.159 / 0.669 +- 0.023 / 0.173 +- 0.007   (139 s)
    pretrained         2.959 +- 0.090 / 2.327 +- 0.071 / 1.536 +- 0.057   (129 s)

From the MAML initialisations, one step fits a new sine wave; second order is the best,
and first order trades accuracy for half the time.  The pretrained initialisation is the
average sine (about 0) and adapts slowly.  Finn et al. train for 70,000 iterations.  The
test runs 700 iterations, which already separate MAML from the baseline.
"""
import argparse
import math
import time

import numpy as np

import diffprog as dp
import diffprog.nn as nn
from diffprog.func import functional_call, grad
from diffprog.func import optim as fopt


class TaskLinear(nn.Linear):
    """nn.Linear whose weight may carry a leading task dimension: (T, out, in) weights
    with (T, N, in) inputs, one linear map per task."""

    def forward(self, x):
        return x @ self.weight.transpose(-1, -2) + self.bias.unsqueeze(-2)


def make_model(hidden=40):
    return nn.Sequential(TaskLinear(1, hidden), nn.ReLU(), TaskLinear(hidden, hidden), nn.ReLU(),
                         TaskLinear(hidden, 1))


def sample_tasks(rng, n_tasks, n_support, n_query, query_grid=False):
    """(x_support, y_support, x_query, y_query), each (tasks, points, 1), float32."""
    amp = rng.uniform(0.1, 5.0, size=(n_tasks, 1, 1))
    phase = rng.uniform(0.0, math.pi, size=(n_tasks, 1, 1))
    xs = rng.uniform(-5.0, 5.0, size=(n_tasks, n_support, 1))
    xq = (np.broadcast_to(np.linspace(-5, 5, n_query)[None, :, None], (n_tasks, n_query, 1))
          if query_grid else rng.uniform(-5.0, 5.0, size=(n_tasks, n_query, 1)))
    t = lambda a: dp.tensor(np.ascontiguousarray(a), dtype=dp.float32)   # noqa: E731
    return t(xs), t(amp * np.sin(xs - phase)), t(xq), t(amp * np.sin(xq - phase))


def task_losses(params, model, x, y):
    """Each task's mean squared error, shape (tasks,)."""
    return ((functional_call(model, params, x) - y) ** 2).mean(dim=(1, 2))


def summed_loss(params, model, x, y):
    # tasks do not interact, so the gradient of the sum w.r.t. task-batched parameters is
    # each task's own gradient
    return task_losses(params, model, x, y).sum()


def adapt(model, params, x, y, steps, inner_lr, first_order=False):
    """Per-task parameters after `steps` SGD steps from `params` on each task's support
    set; differentiable w.r.t. params (second order unless first_order)."""
    tasks = x.shape[0]
    fast = {k: v.expand(tasks, *v.shape) for k, v in params.items()}
    opt = fopt.SGD(lr=inner_lr)
    state = opt.init(fast)
    for _ in range(steps):
        g = grad(summed_loss)(fast, model, x, y)
        if first_order:
            g = {k: v.detach() for k, v in g.items()}
        fast, state = opt.step(fast, g, state)
    return fast


def meta_train(method, iterations, meta_batch, k, inner_lr, meta_lr, seed, log_every=0):
    """Train an initialisation: "maml" (second order), "fomaml" or "pretrained"."""
    dp.manual_seed(seed)
    rng = np.random.default_rng(seed + 1)
    model = make_model()
    opt = dp.optim.Adam(model.parameters(), lr=meta_lr)
    params = dict(model.named_parameters())
    for it in range(1, iterations + 1):
        xs, ys, xq, yq = sample_tasks(rng, meta_batch, k, k)
        if method == "pretrained":
            loss = task_losses(params, model, dp.cat([xs, xq], 1), dp.cat([ys, yq], 1)).mean()
        else:
            fast = adapt(model, params, xs, ys, 1, inner_lr, first_order=method == "fomaml")
            loss = task_losses(fast, model, xq, yq).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and it % log_every == 0:
            print(f"  {method} iteration {it}: meta-loss {loss.item():.3f}", flush=True)
    return model


def evaluate(model, n_tasks, k, inner_lr, steps=(0, 1, 10), seed=1234):
    """{steps: (mean MSE, standard error)} over new tasks, each fine-tuned on k points."""
    rng = np.random.default_rng(seed)
    xs, ys, xq, yq = sample_tasks(rng, n_tasks, k, 100, query_grid=True)
    params = {k_: v.detach() for k_, v in model.named_parameters()}
    result = {}
    for n in steps:
        fast = adapt(model, params, xs, ys, n, inner_lr, first_order=True)
        with dp.no_grad():
            mse = task_losses(fast, model, xq, yq).numpy()
        result[n] = (float(mse.mean()), float(mse.std() / math.sqrt(n_tasks)))
    return result


def main(iterations=15000, meta_batch=25, k=10, inner_lr=0.01, meta_lr=1e-3, test_tasks=1000,
         methods=("maml", "fomaml", "pretrained"), seed=0, verbose=True):
    """Train each method and return {method: {steps: (mse, stderr)}}."""
    results = {}
    for method in methods:
        start = time.perf_counter()
        model = meta_train(method, iterations, meta_batch, k, inner_lr, meta_lr, seed,
                           log_every=max(iterations // 4, 1) if verbose else 0)
        results[method] = evaluate(model, test_tasks, k, inner_lr)
        if verbose:
            figures = " / ".join(f"{m:.3f} +- {s:.3f}" for m, s in results[method].values())
            print(f"{method:>10}: test MSE after {'/'.join(map(str, results[method]))} steps: "
                  f"{figures}  ({time.perf_counter() - start:.0f} s)", flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=15000)
    parser.add_argument("--meta-batch", type=int, default=25)
    parser.add_argument("--k", type=int, default=10, help="support points per task")
    parser.add_argument("--inner-lr", type=float, default=0.01)
    parser.add_argument("--meta-lr", type=float, default=1e-3)
    parser.add_argument("--test-tasks", type=int, default=1000)
    parser.add_argument("--methods", nargs="+", default=["maml", "fomaml", "pretrained"],
                        choices=["maml", "fomaml", "pretrained"])
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    main(a.iterations, a.meta_batch, a.k, a.inner_lr, a.meta_lr, a.test_tasks, tuple(a.methods), a.seed)
