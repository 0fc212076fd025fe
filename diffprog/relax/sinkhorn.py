"""Sinkhorn normalisation (Mena et al. 2018, Gumbel-Sinkhorn): alternately normalise rows
and columns of exp(log_alpha / tau) in log space, converging to a doubly stochastic matrix
(the entropic relaxation of the best permutation; a hard permutation as tau -> 0)."""


def sinkhorn(log_alpha, n_iters=20, tau=1.0):
    """Doubly stochastic (..., n, n) matrix from scores log_alpha: n_iters rounds of row then
    column normalisation of log_alpha / tau in log space, differentiated through the unrolled
    iterations.  Columns sum to 1 exactly; rows to within the convergence error."""
    if log_alpha.ndim < 2 or log_alpha.shape[-1] != log_alpha.shape[-2]:
        raise RuntimeError(f"sinkhorn: expected square matrices (..., n, n), got shape "
                           f"{tuple(log_alpha.shape)}")
    z = log_alpha / tau
    for _ in range(n_iters):
        z = z - z.logsumexp(-1, keepdim=True)
        z = z - z.logsumexp(-2, keepdim=True)
    return z.exp()
