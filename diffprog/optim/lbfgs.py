"""L-BFGS: quasi-Newton steps from the last few gradient differences, with an optional
strong-Wolfe line search.

All parameters are treated as one flat vector; each `step(closure)` runs up to `max_iter`
iterations, re-evaluating the loss through the closure, and keeps the curvature history
in `state` so the next call continues where this one stopped.
"""

from .._array import xp
from ..tensor import Tensor
from .optimizer import Optimizer, check, _evaluate

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        check("learning rate", lr, 0.0 <= lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # --- the parameters as one flat vector ---------------------------------------------

    def _flat_grad(self):
        return xp.concatenate([p._grad._data.ravel() if p._grad is not None
                               else xp.zeros(p._data.size, p._data.dtype, like=p._data) for p in self._params])

    def _move(self, t, d):
        """params += t * d."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += t * d[offset:offset + n].reshape(p._data.shape)
            p._vc[0] += 1
            offset += n

    def _set(self, values):
        for p, v in zip(self._params, values):
            xp.copyto(p._data, v)
            p._vc[0] += 1

    def _loss_and_grad(self, closure):
        return float(_evaluate(closure)), self._flat_grad()

    def step(self, closure):
        """Run up to `max_iter` L-BFGS iterations; `closure` must re-evaluate the loss
        (zero the gradients, compute the loss, call backward, return the loss)."""
        if closure is None:
            raise RuntimeError("LBFGS.step requires a closure that re-evaluates the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        line_search, history_size = group["line_search_fn"], group["history_size"]
        if line_search not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = _evaluate(closure)
        loss, g = float(orig_loss), self._flat_grad()
        evals = 1
        state["func_evals"] += 1
        if xp.abs(g).max() <= tol_grad:                  # already at a stationary point
            return orig_loss

        d, t, prev_g, prev_loss = (_array(state.get(k)) for k in ("d", "t", "prev_flat_grad",
                                                                    "prev_loss"))
        old_dirs = [y._data for y in state.get("old_dirs", [])]      # gradient differences y
        old_stps = [s._data for s in state.get("old_stps", [])]      # parameter steps s
        ro = list(state.get("ro", []))                                # 1 / (y . s)
        H_diag = state.get("H_diag", 1)

        for n_iter in range(1, max_iter + 1):
            state["n_iter"] += 1
            # Direction: steepest descent at first, then the two-loop recursion.
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y, s = g - prev_g, d * t
                ys = float(y @ s)
                if ys > 1e-10:                           # keep only positive curvature pairs
                    if len(old_dirs) == history_size:
                        del old_dirs[0], old_stps[0], ro[0]
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                d = _two_loop(-g, old_dirs, old_stps, ro, H_diag)
            prev_g, prev_loss = g, loss
            t = min(1.0, 1.0 / float(xp.abs(g).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(g @ d)
            if gtd > -tol_change:                        # not a descent direction any more
                break

            # Step length: the line search, or a fixed step t.
            ls_evals = 0
            if line_search == "strong_wolfe":
                x0 = [p._data.copy() for p in self._params]

                def loss_along(step):
                    self._move(step, d)
                    f_new, g_new = self._loss_and_grad(closure)
                    self._set(x0)
                    return f_new, g_new

                loss, g, t, ls_evals = _strong_wolfe(loss_along, t, d, loss, g, gtd,
                                                     tolerance_change=tol_change,
                                                     max_ls=max_eval - evals)
                self._move(t, d)
            else:
                self._move(t, d)
                if n_iter != max_iter:
                    loss, g = self._loss_and_grad(closure)
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if (n_iter == max_iter or evals >= max_eval or xp.abs(g).max() <= tol_grad
                    or xp.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change):
                break

        state.update(d=_tensor(d), t=t, old_dirs=[Tensor._make(y) for y in old_dirs],
                     old_stps=[Tensor._make(s) for s in old_stps], ro=ro, H_diag=H_diag,
                     prev_flat_grad=_tensor(prev_g), prev_loss=prev_loss)
        return orig_loss


def _two_loop(q, old_dirs, old_stps, ro, H_diag):
    """-H g for the L-BFGS inverse-Hessian estimate H (Nocedal & Wright, Algorithm 7.4);
    `q` = -g is overwritten."""
    al = [0.0] * len(old_dirs)
    for i in reversed(range(len(old_dirs))):
        al[i] = float(old_stps[i] @ q) * ro[i]
        q -= al[i] * old_dirs[i]
    r = q
    r *= H_diag
    for i in range(len(old_dirs)):
        be_i = float(old_dirs[i] @ r) * ro[i]
        r += (al[i] - be_i) * old_stps[i]
    return r


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic matching value f and slope g at x1 and x2, clipped to `bounds`
    (default: between the points); the middle of the bounds when the cubic has no minimum.
    Computed in IEEE arithmetic: a degenerate cubic (e.g. a linear loss) yields an infinite
    minimiser, which the clipping turns into a bound, as in PyTorch."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    x1, f1, g1, x2, f2, g2 = (xp.float64(v) for v in (x1, f1, g1, x2, f2, g2))
    with xp.errstate(divide="ignore", invalid="ignore"):
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 ** 2 - g1 * g2
        if not d2_square >= 0:
            return (lo + hi) / 2.0
        d2 = xp.sqrt(d2_square)
        if x1 > x2:                                       # formula written for x1 <= x2
            x1, g1, x2, g2 = x2, g2, x1, g1
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    return float(min(max(x, lo), hi))


def _strong_wolfe(loss_along, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Find a step t along d satisfying the strong Wolfe conditions
        f(t) <= f(0) + c1 t f'(0)   (sufficient decrease)   and   |f'(t)| <= -c2 f'(0)   (curvature)
    by bracketing (extrapolating with cubic steps until the conditions or a bracket hold)
    then zooming into the bracket (Nocedal & Wright, Algorithms 3.5 and 3.6).
    `loss_along(t)` returns (loss, flat gradient) at params + t d.
    Returns (loss, gradient, t, number of evaluations)."""
    d_norm = float(xp.abs(d).max())
    f_new, g_new = loss_along(t)
    evals, ls_iter = 1, 0
    gtd_new = float(g_new @ d)
    prev = (0, f, g, gtd)                    # points are (t, loss, gradient, slope)
    done = False

    # Bracketing phase.
    while ls_iter < max_ls:
        new = (t, f_new, g_new, gtd_new)
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= prev[1]):
            bracket = [prev, new]            # went too far: a minimiser lies in between
            break
        if abs(gtd_new) <= -c2 * gtd:        # new satisfies both conditions
            bracket, done = [new], True
            break
        if gtd_new >= 0:                     # the slope turned: a minimiser lies in between
            bracket = [prev, new]
            break
        # Still descending steeply: extrapolate, at least 1% beyond t and at most 10 t.
        t = _cubic_minimum(prev[0], prev[1], prev[3], t, f_new, gtd_new,
                           bounds=(t + 0.01 * (t - prev[0]), t * 10))
        prev = new
        f_new, g_new = loss_along(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    else:
        bracket = [(0, f, g, gtd), (t, f_new, g_new, gtd_new)]

    # Zoom phase: shrink the bracket [low, high] (low: the lower loss) around a Wolfe point.
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    insufficient_progress = False
    while not done and ls_iter < max_ls:
        if abs(bracket[1][0] - bracket[0][0]) * d_norm < tolerance_change:
            break
        (t0, f0, _, s0), (t1, f1, _, s1) = bracket
        t = _cubic_minimum(t0, f0, s0, t1, f1, s1)
        # Keep the trial point away from the ends of the bracket (10% margin); if it was
        # near an end twice in a row (or outside), move it to the margin.
        top, bottom = max(t0, t1), min(t0, t1)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            if insufficient_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = loss_along(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        new = (t, f_new, g_new, gtd_new)
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = new                          # too high: new upper end
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]             # slope points back: flip the bracket
            bracket[low] = new

    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals


def _array(value):
    return value._data if isinstance(value, Tensor) else value


def _tensor(value):
    return Tensor._make(value) if value is not None else None
