"""Check analytic derivatives against central finite differences (PyTorch's gradcheck).

Every output element's derivative w.r.t. every input element is compared:

    numerical[r, k] = (f(x + eps e_k)[r] - f(x - eps e_k)[r]) / (2 eps)

against the reverse-mode Jacobian (one VJP per output element) and, with
`check_forward_ad=True`, the forward-mode Jacobian (one JVP per input element).
Use float64 inputs: in float32 the differences are too noisy to be meaningful.
"""
import warnings

from .._array import xp
from ..tensor import Tensor
from . import engine, forward_ad
from .functional import basis


class GradcheckError(RuntimeError):
    """Raised by gradcheck / gradgradcheck when a derivative is wrong."""


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False, check_forward_ad=False,
              check_backward_ad=True, fast_mode=False, masked=None):
    """True if func's derivatives match finite differences, else raise GradcheckError
    (or return False with raise_exception=False).  Only inputs requiring grad are checked."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    for i in diff:
        if inputs[i].dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          f"point or complex. This check will likely fail if all the inputs are "
                          f"not of double precision floating point or complex.", stacklevel=2)
    outputs = _outputs(func(*inputs))
    numerical = _numerical(func, inputs, diff, outputs, eps)
    checks = []
    if check_backward_ad:
        checks.append(("", _reverse(inputs, diff, outputs)))
    if check_forward_ad:
        checks.append((" computed with forward mode", _forward(func, inputs, diff, outputs)))
    for how, analytical in checks:
        for (o, i), num in numerical.items():
            ana = analytical[o, i]
            bad = xp.abs(ana - num) > atol + rtol * xp.abs(num)
            if bad.any():
                r, k = (int(v) for v in xp.argwhere(bad)[0])
                msg = (f"Jacobian{how} mismatch for output {o} with respect to input {i},\n"
                       f"numerical:{Tensor._make(num)}\nanalytical:{Tensor._make(ana)}\n"
                       f"first mismatch: d output[{_index(outputs[o], r)}] / d input"
                       f"[{_index(inputs[i], k)}] is {ana[r, k]!r} but finite differences give "
                       f"{num[r, k]!r} (atol={atol}, rtol={rtol})")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=None):
    """gradcheck of the VJP: second derivatives, w.r.t. the inputs and the cotangents
    (random ones unless `grad_outputs` is given)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if grad_outputs is None:
        rng = xp.random.default_rng(0)
        outs = [o for o in _outputs(func(*inputs)) if o.requires_grad]
        grad_outputs = tuple(Tensor._make(rng.standard_normal(o._data.shape).astype(o._data.dtype))
                             .requires_grad_() for o in outs)
    else:
        grad_outputs = tuple(grad_outputs) if isinstance(grad_outputs, (tuple, list)) \
            else (grad_outputs,)
    n = len(grad_outputs)

    def vjp_fn(*args):
        xs = args[:-n] if n else args
        outs = [o for o in _outputs(func(*xs)) if o.requires_grad]
        wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        grads = engine.grad(outs, wrt, list(args[-n:]), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(vjp_fn, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, check_forward_ad=check_fwd_over_rev,
                     check_backward_ad=check_rev_over_rev)


def _outputs(out):
    out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    return [o for o in out if isinstance(o, Tensor) and o.dtype.is_floating_point]


def _index(t, flat):
    """A flat element number as a readable index: '1, 2' (or '' for a 0-d tensor)."""
    return ", ".join(str(int(i)) for i in xp.unravel_index(flat, t._data.shape))


def _numerical(func, inputs, diff, outputs, eps):
    """{(output, input): (n_out, n_in) array} by central differences, perturbing in place
    (with grad mode on: func may itself differentiate, as in gradgradcheck)."""
    jac = {(o, i): xp.zeros((out.numel(), inputs[i].numel()))
           for o, out in enumerate(outputs) for i in diff}
    for i in diff:
        a = inputs[i]._data
        for k in range(a.size):
            idx = xp.unravel_index(k, a.shape)
            old = a[idx]
            a[idx] = old + eps
            plus = _outputs(func(*inputs))
            a[idx] = old - eps
            minus = _outputs(func(*inputs))
            a[idx] = old
            for o, (p, m) in enumerate(zip(plus, minus)):
                jac[o, i][:, k] = ((p._data.astype(xp.float64) - m._data) / (2 * eps)).reshape(-1)
    return jac


def _reverse(inputs, diff, outputs):
    """Analytic Jacobians, one VJP per output element."""
    wrt = [inputs[i] for i in diff]
    jac = {}
    for o, out in enumerate(outputs):
        rows = {i: xp.zeros((out.numel(), inputs[i].numel())) for i in diff}
        if out.requires_grad:
            for r in range(out.numel()):
                grads = engine.grad(out, wrt, basis(out, r), retain_graph=True, allow_unused=True)
                for i, g in zip(diff, grads):
                    if g is not None:
                        rows[i][r] = g._data.reshape(-1)
        jac.update({(o, i): rows[i] for i in diff})
    return jac


def _forward(func, inputs, diff, outputs):
    """Analytic Jacobians, one JVP per input element."""
    jac = {(o, i): xp.zeros((out.numel(), inputs[i].numel()))
           for o, out in enumerate(outputs) for i in diff}
    for i in diff:
        for k in range(inputs[i].numel()):
            with forward_ad.dual_level():
                args = list(inputs)
                args[i] = forward_ad.make_dual(inputs[i].detach(), basis(inputs[i], k))
                outs = _outputs(func(*args))
                for o, out in enumerate(outs):
                    t = forward_ad.unpack_dual(out).tangent
                    if t is not None:
                        jac[o, i][:, k] = t._data.reshape(-1)
    return jac
