"""The score-function (REINFORCE, likelihood-ratio) gradient estimator.

grad E_{x~p_theta}[f(x)] = E[f(x) grad log p_theta(x)]: unbiased for any f (even
non-differentiable, discrete x), but high variance.  Subtracting a baseline b that does not
depend on the sample x keeps it unbiased (E[grad log p] = 0) and can cut the variance.
"""


def score_function_surrogate(log_prob, f_value, baseline=None, control_variate=None):
    """A surrogate whose gradient is the REINFORCE estimator ((f - b).detach() * log_prob).

    Average it over samples and call backward; its value is not E[f].  If f also depends on
    theta directly (pathwise), add f to the surrogate yourself.
    baseline: a number or tensor independent of the sample (e.g. from `MovingAverageBaseline`),
    or "loo": the leave-one-out mean of f over the other samples along dim 0 (unbiased).
    control_variate: (c, c_mean) with c = c(x) and c_mean = E[c(x)] differentiable in theta:
    the estimator (f - c) grad log p + grad E[c] is unbiased and has low variance when c
    tracks f."""
    f = f_value.detach()
    extra = 0
    if control_variate is not None:
        c, c_mean = control_variate
        f, extra = f - c.detach(), c_mean
    if isinstance(baseline, str):
        if baseline != "loo":
            raise ValueError(f"score_function_surrogate: unknown baseline {baseline!r} (use 'loo', "
                             "a number or a tensor)")
        n = f.shape[0]
        if n < 2:
            raise ValueError("score_function_surrogate: the 'loo' baseline needs at least 2 samples "
                             "along dim 0")
        baseline = (f.sum(0, keepdim=True) - f) / (n - 1)
    if baseline is not None:
        f = f - baseline
    return f.detach() * log_prob + extra


class MovingAverageBaseline:
    """An exponential moving average of f over past batches, as a REINFORCE baseline.

    `b = baseline(f)` returns the average of the *earlier* batches (so it does not depend on
    this batch's samples and the estimator stays unbiased), then folds f's mean into it."""

    def __init__(self, momentum=0.9, initial=0.0):
        self.momentum, self.value = momentum, initial

    def __call__(self, f_value):
        b = self.value
        self.update(f_value)
        return b

    def update(self, f_value):
        """value <- momentum * value + (1 - momentum) * mean(f)."""
        self.value = self.momentum * self.value + (1 - self.momentum) * f_value.detach().mean().item()

    def __repr__(self):
        return f"MovingAverageBaseline(momentum={self.momentum}, value={self.value})"
