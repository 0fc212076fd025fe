"""CMA-ES: the covariance matrix adaptation evolution strategy (Hansen & Ostermeier 2001), a
derivative-free optimiser for the parameters as one flat vector.

Each `step(closure)` is one generation, following Hansen's tutorial ("The CMA Evolution
Strategy: A Tutorial", 2016, its Table 1 defaults):

    x_k = m + sigma * B D z_k,  z_k ~ N(0, I),  k = 1..lambda     (C = B D^2 B^T)
    m  <- m + sigma * y_w,  y_w = sum_i w_i y_(i)                  (the mu best, weighted)
    p_s <- (1 - c_s) p_s + sqrt(c_s (2 - c_s) mu_eff) C^-1/2 y_w    (step-size path)
    sigma <- sigma * exp(c_s / d_s * (|p_s| / E|N(0, I)| - 1))
    p_c <- (1 - c_c) p_c + h_s sqrt(c_c (2 - c_c) mu_eff) y_w       (covariance path)
    C  <- (1 - c_1 - c_mu) C + c_1 (p_c p_c^T + delta(h_s) C) + c_mu sum_i w_i y_(i) y_(i)^T

so the search distribution's covariance learns the local shape of the loss (for a quadratic,
roughly its inverse Hessian) from ranks of loss values alone.
"""
import math

from ..autograd.grad_mode import no_grad
from .._array import xp
from ..random import randn
from ..tensor import Tensor
from .optimizer import Optimizer, check

__all__ = ["CMAES"]

_STATE = ("mean", "sigma", "C", "B", "D", "p_sigma", "p_c", "generation", "evaluations",
          "eigen_generation", "best_loss", "best_x")


class CMAES(Optimizer):
    """CMA-ES over all parameters as one vector: `loss = opt.step(closure)` samples a population,
    evaluates `closure()` (which returns the loss; no backward needed) at each member, and
    moves the search distribution.  Afterwards the parameters hold the distribution's mean.

    Args:
        params: the parameters (one group).
        sigma: initial step size, about a quarter of the range the optimum may lie in.
        popsize: lambda, members per generation (default 4 + floor(3 ln n)).
        generator: a `diffprog.Generator` for the samples (default: the global one).

    `step` returns the best loss of the generation; `state` keeps the distribution, the
    number of evaluations and the best member so far (`best_loss`, `best_x`).
    """

    def __init__(self, params, sigma=0.5, popsize=None, generator=None):
        check("sigma", sigma, sigma > 0)
        super().__init__(params, dict(sigma=sigma, popsize=popsize))
        if len(self.param_groups) != 1:
            raise ValueError("CMAES doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        n = sum(p.numel() for p in self._params)
        lam = popsize or 4 + int(3 * math.log(n))
        check("popsize", lam, lam >= 2)
        mu = lam // 2
        w = math.log((lam + 1) / 2) - xp.log(xp.arange(1, mu + 1))
        self.weights = w / w.sum()
        mu_eff = 1.0 / (self.weights ** 2).sum()
        self.n, self.lam, self.mu, self.mu_eff = n, lam, mu, mu_eff
        self.c_sigma = (mu_eff + 2) / (n + mu_eff + 5)
        self.d_sigma = 1 + 2 * max(0.0, math.sqrt((mu_eff - 1) / (n + 1)) - 1) + self.c_sigma
        self.c_c = (4 + mu_eff / n) / (n + 4 + 2 * mu_eff / n)
        self.c_1 = 2 / ((n + 1.3) ** 2 + mu_eff)
        self.c_mu = min(1 - self.c_1, 2 * (mu_eff - 2 + 1 / mu_eff) / ((n + 2) ** 2 + mu_eff))
        self.chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        self.generator = generator

    def _vector(self):
        return xp.concatenate([p._data.reshape(-1).astype(xp.float64) for p in self._params])

    def _load(self, x):
        offset = 0
        for p in self._params:
            k = p._data.size
            p._data[...] = x[offset:offset + k].reshape(p._data.shape)
            p._vc[0] += 1
            offset += k

    def _state(self):
        """The distribution as arrays (created on the first step from the current parameters)."""
        st = self.state[self._params[0]]
        if not st:
            n = self.n
            arrays = dict(mean=self._vector(), sigma=self.param_groups[0]["sigma"], C=xp.eye(n),
                          B=xp.eye(n), D=xp.ones(n), p_sigma=xp.zeros(n), p_c=xp.zeros(n), generation=0,
                          evaluations=0, eigen_generation=0, best_loss=math.inf, best_x=self._vector())
            st.update({k: Tensor._make(xp.asarray(v, dtype=xp.float64)) for k, v in arrays.items()})
        return {k: (st[k]._data if st[k]._data.ndim else float(st[k]._data)) for k in _STATE}

    def _save(self, s):
        st = self.state[self._params[0]]
        for k in _STATE:
            st[k] = Tensor._make(xp.asarray(s[k], dtype=xp.float64))

    def load_state_dict(self, state_dict):
        """As `Optimizer.load_state_dict`, but the distribution stays in float64 whatever
        the parameters' dtype."""
        super().load_state_dict(state_dict)
        for saved in state_dict["state"].values():
            self.state[self._params[0]] = {k: Tensor._make(xp.array(v._data, dtype=xp.float64))
                                           for k, v in saved.items()}

    def step(self, closure):
        """One generation; `closure()` returns the loss at the current parameters."""
        if closure is None:
            raise RuntimeError("CMAES.step requires a closure that returns the loss")
        s = self._state()
        n, lam, mu, w = self.n, self.lam, self.mu, self.weights
        m, sigma, B, D = s["mean"], s["sigma"], s["B"], s["D"]
        z = randn(lam, n, generator=self.generator, dtype="float64")._data
        y = (z * D) @ B.T                                  # rows: B D z_k ~ N(0, C)
        x = m + sigma * y
        losses = xp.empty(lam)
        with no_grad():
            for k in range(lam):
                self._load(x[k])
                losses[k] = float(closure())
        order = xp.argsort(losses, kind="stable")
        y_sel = y[order[:mu]]
        y_w = w @ y_sel
        m = m + sigma * y_w

        c_s, c_c, c_1, c_mu = self.c_sigma, self.c_c, self.c_1, self.c_mu
        inv_sqrt_C = (B / D) @ B.T
        p_sigma = (1 - c_s) * s["p_sigma"] + math.sqrt(c_s * (2 - c_s) * self.mu_eff) * (inv_sqrt_C @ y_w)
        norm_ps = float(xp.linalg.norm(p_sigma))
        generation = s["generation"] + 1
        h_sigma = norm_ps / math.sqrt(1 - (1 - c_s) ** (2 * generation)) < (1.4 + 2 / (n + 1)) * self.chi_n
        p_c = (1 - c_c) * s["p_c"] + h_sigma * math.sqrt(c_c * (2 - c_c) * self.mu_eff) * y_w
        delta = (1 - h_sigma) * c_c * (2 - c_c)
        rank_mu = (y_sel.T * w) @ y_sel
        C = (1 - c_1 - c_mu) * s["C"] + c_1 * (xp.outer(p_c, p_c) + delta * s["C"]) + c_mu * rank_mu
        sigma = sigma * math.exp(c_s / self.d_sigma * (norm_ps / self.chi_n - 1))

        evaluations = s["evaluations"] + lam
        eigen_generation = s["eigen_generation"]
        # the O(n^3) eigendecomposition only every few generations, as the tutorial suggests
        if (evaluations - eigen_generation) > lam / (c_1 + c_mu) / n / 10:
            C = (C + C.T) / 2
            eigvals, B = xp.linalg.eigh(C)
            D = xp.sqrt(xp.maximum(eigvals, 1e-300))
            eigen_generation = evaluations
        best = int(order[0])
        best_loss, best_x = s["best_loss"], s["best_x"]
        if losses[best] < best_loss:
            best_loss, best_x = float(losses[best]), x[best]
        self._save(dict(mean=m, sigma=sigma, C=C, B=B, D=D, p_sigma=p_sigma, p_c=p_c, generation=generation,
                        evaluations=evaluations, eigen_generation=eigen_generation, best_loss=best_loss,
                        best_x=best_x))
        self._load(m)
        return float(losses[best])
