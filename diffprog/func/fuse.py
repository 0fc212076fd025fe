"""Chains of elementwise ops in a plan, fused into one expression or kernel.

A step joins the chain of its operand when that operand is the chain's result and read by
nothing else.  Each chain becomes one line of the generated code:

  - with numba (`pip install diffprog[fast]`), one `numba.vectorize` ufunc: a single pass
    over the data, no temporaries.  Every operation is done in the dtype NumPy would use
    (operands are cast to the op's result dtype), so results match the unfused ops up to
    the rounding of the math library's exp/log/tanh;
  - without it (or with `options={"fusion": "numpy"}`), the chain's NumPy expression,
    computed exactly as the ops' forwards would compute it, minus their dispatch.

numexpr is not used: it computes float32 arrays with Python constants in float64, so its
results would differ from the ops'.
"""
import numpy as np

from ..ops.activations import Relu
from ..ops.arithmetic import Abs, Add, Div, Mul, Neg, Reciprocal, Sqrt, Sub
from ..ops.comparison import _Predicate
from ..ops.fast import numba as _numba
from ..ops.reduction import Sum
from ..ops.shape import Expand
from ..ops.transcendental import Exp, Log, Sigmoid, Tanh
from .trace import Cast, Ref, Step, _root, _step_refs

_BINARY = {Add: "+", Sub: "-", Mul: "*", Div: "/"}
_UNARY = {Exp: "exp", Log: "log", Sqrt: "sqrt", Tanh: "tanh", Abs: "absolute",
          Reciprocal: "reciprocal"}
_COMPARE = {"greater": ">", "greater_equal": ">=", "less": "<", "less_equal": "<=",
            "equal": "==", "not_equal": "!="}


def fusable(s, numba):
    cls = s.fn
    if s.kind != "op" or len(s.outs) != 1:
        return False
    if cls in _BINARY:
        return set(s.kwargs) <= {"alpha"}
    if cls is Sigmoid:          # (NumPy would warn where exp(-x) overflows; Sigmoid does not)
        return numba is not None and not s.kwargs
    if cls in _UNARY or cls in (Neg, Relu):
        return not s.kwargs
    if cls is Expand:           # a broadcast: free inside a kernel of the expanded shape
        return set(s.kwargs) == {"shape"}
    return issubclass(cls, _Predicate) and cls.fn.__name__ in _COMPARE and not s.kwargs


class _Expr:
    """A sub-expression of a chain: its code, its dtype, and whether it is a Python scalar."""

    def __init__(self, code, dtype, scalar=False):
        self.code, self.dtype, self.scalar = code, np.dtype(dtype), scalar


def _op_expr(s, a, out_dtype, numba):
    """The expression of one step from its operands' expressions."""
    cls = s.fn
    if cls is Expand:
        return a[0].code

    def cast(e, dtype=out_dtype):
        if not numba or e.dtype == np.dtype(dtype):
            return e.code
        return f"np.{np.dtype(dtype).name}({e.code})"

    if cls in _BINARY:
        x, y = cast(a[0]), cast(a[1])
        alpha = s.kwargs.get("alpha", 1)
        if alpha != 1:
            y = f"({cast(_Expr(repr(alpha), _scalar_dtype(alpha)))} * {y})"
        return f"({x} {_BINARY[cls]} {y})"
    if cls is Neg:
        return f"(-{cast(a[0])})"
    if cls is Relu:
        return f"np.maximum({cast(a[0])}, {cast(_Expr('0', np.int64))})"
    if cls is Sigmoid:
        one = cast(_Expr("1", np.int64))
        return f"({one} / ({one} + np.exp(-{cast(a[0])})))"
    if cls in _UNARY:
        return f"np.{_UNARY[cls]}({cast(a[0])})"
    common = np.result_type(*(e.dtype for e in a if not e.scalar)) if any(
        not e.scalar for e in a) else a[0].dtype
    return f"({cast(a[0], common)} {_COMPARE[cls.fn.__name__]} {cast(a[1], common)})"


def _scalar_dtype(v):
    return np.bool_ if isinstance(v, bool) else np.int64 if isinstance(v, int) else np.float64


def fuse(steps, keep, meta, ns, fusion):
    """The steps with each elementwise chain replaced by one "kernel" step."""
    if fusion == "none":
        return steps
    numba = _numba() if fusion in ("auto", "numba") else None
    if fusion == "numba" and numba is None:
        raise RuntimeError("compile: options={'fusion': 'numba'} needs numba "
                           "(pip install numba, or diffprog[fast])")
    uses = {}                     # how many times each value is read
    for s in steps:
        for r in _step_refs(s):
            uses[_root(r)] = uses.get(_root(r), 0) + 1
    chains, of = {}, {}           # id(last step) -> chain; output name -> chain ending with it
    for s in steps:
        if s.kind in ("write", "sample", "copy"):
            of.clear()            # a chain must not read across a write
        if not fusable(s, numba) or s.ctx in keep:
            continue
        chain = [s]
        for a in s.args:
            if isinstance(a, Ref) and a in of and uses.get(a) == 1 and a not in keep:
                sub = of.pop(a)
                del chains[id(sub[-1])]
                chain = sub + chain
        chains[id(s)] = chain
        of[s.outs[0]] = chain
    inner = {id(s) for c in chains.values() for s in c[:-1]}
    out = []
    for s in steps:
        if id(s) in inner:
            continue
        chain = chains.get(id(s))
        if chain is None:
            out.append(_direct(s, meta, ns, keep) or s)
            continue
        kernel = _kernel(chain, meta, ns, numba if len(chain) > 1 else None)
        out += [kernel] if kernel is not None else chain
    return out


def _direct(s, meta, ns, keep):
    """A full sum as the NumPy call Sum.forward would make, without its argument handling."""
    if s.kind == "op" and s.fn is Sum and s.kwargs == {"dim": None, "keepdim": False, "dtype": None} \
            and isinstance(s.args[0], Ref) and meta[s.args[0]][1].kind in "fc" and s.ctx not in keep:
        ns.setdefault("np", np)
        return Step("kernel", f"np.add.reduce({s.args[0]}, axis=None)", [s.args[0]], {}, s.outs,
                    scalar=(True,))
    return None


def _kernel(chain, meta, ns, numba):
    """One step computing the chain: a NumPy expression, or a numba ufunc call."""
    if numba is None and any(s.fn is Sigmoid for s in chain):
        return None
    params, exprs = [], {}
    for s in chain:
        operands = []
        for a in s.args:
            if isinstance(a, Ref) and a in exprs:
                operands.append(exprs[a])
            elif isinstance(a, Ref) and a in meta:
                operands.append(_param(a, meta[a][1], params))
            elif isinstance(a, Ref):              # a float the forward kept on its ctx
                e = _param(a, np.float64, params)
                operands.append(_Expr(e.code, np.float64, scalar=True))
            elif isinstance(a, Cast):
                e = _param(a.value, meta[a.value][1], params)
                operands.append(_Expr(f"np.{a.dtype.name}({e.code})" if numba else
                                      f"{e.code}.astype(np.{a.dtype.name})", a.dtype))
            else:
                operands.append(_Expr(repr(a), _scalar_dtype(a), scalar=True))
        dtype = meta[s.outs[0]][1]
        exprs[s.outs[0]] = _Expr(_op_expr(s, operands, dtype, numba), dtype)
    out = chain[-1].outs[0]
    shapes = [meta[name][0] for name, _ in params if name in meta]
    if np.broadcast_shapes(*shapes) != meta[out][0]:
        return None               # an expand the other operands do not broadcast to
    result = exprs[out]
    ns.setdefault("np", np)
    refs = [Ref(name) for name, _ in params]
    scalar = (meta[out][0] == (),)
    if numba is None:
        code = result.code
        for j in reversed(range(len(params))):
            code = code.replace(f"P{j}_", params[j][0])
        return Step("kernel", code, refs, {}, [out], scalar=scalar)
    name = f"kernel_{len(ns)}"
    ns[name] = _compile_numba(numba, result.code, [d for _, d in params], result.dtype)
    return Step("kernel", f"{name}({', '.join(refs)})", refs, {}, [out], scalar=scalar)


def _param(ref, dtype, params):
    for j, (name, _) in enumerate(params):
        if name == ref:
            return _Expr(f"P{j}_", dtype)
    params.append((str(ref), np.dtype(dtype)))
    return _Expr(f"P{len(params) - 1}_", dtype)


_KERNELS = {}


def _compile_numba(numba, code, in_dtypes, out_dtype):
    """A numba ufunc computing `code` elementwise (cached by code and signature)."""
    key = (code, tuple(in_dtypes), out_dtype)
    fn = _KERNELS.get(key)
    if fn is None:
        args = ", ".join(f"P{j}_" for j in range(len(in_dtypes)))
        scope = {"np": np}
        exec(f"def kernel({args}):\n    return {code}\n", scope)
        sig = f"{_nb_type(out_dtype)}({', '.join(_nb_type(d) for d in in_dtypes)})"
        fn = _KERNELS[key] = numba.vectorize([sig])(scope["kernel"])
    return fn


def _nb_type(dtype):
    return "boolean" if dtype == np.bool_ else np.dtype(dtype).name
