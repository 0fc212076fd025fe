"""Linear algebra: products (matmul, einsum, ...), decompositions, solvers and norms.

Each op keeps its forward (NumPy's BLAS/LAPACK routines), its VJP and its JVP together.
The rules are written with matmul, solve, inv and elementwise tensor ops, so they are
differentiable again.  Vectors in products are treated as (1, k) or (k, 1) matrices, and
batch dimensions broadcast like NumPy's; the engine sums gradients over broadcast batches.

Decompositions follow PyTorch's conventions and its derivative formulas: the SVD and eigh
rules need distinct singular values / eigenvalues; det/slogdet/logdet differentiate through
the inverse (nonsingular inputs); QR's derivative is for m >= n in reduced mode.
"""
import collections
import math
import string

from .. import dtypes as _dt
from .._array import as_array, eye, ones, xp
from .._dims import _dims
from ..tensor import Tensor
from .batching import along, array_of, leading, lift, loop, materialize, ndim_of, physical, shift
from .complex import conj_if_complex as _c
from .op import Op
from .reduction import _expand_back
from .sparse import SparseCOOTensor, matmul as _sparse_matmul


# --- helpers -----------------------------------------------------------------------------

def _const(array):
    """A tensor that takes no gradient (identities, masks, signs: piecewise constants)."""
    return Tensor._make(array)


def _eye(n, like):
    return _const(eye(n, dtype=like.dtype.np, like=array_of(like)))


def _mat(t):
    """A batch of scalars as a batch of 1 x 1 matrices (to scale matrices)."""
    return t.reshape(*t.shape, 1, 1)


def _inv_gaps(v):
    """F[..., i, j] = 1 / (v[j] - v[i]) off the diagonal, 0 on it (eigen/singular gaps)."""
    n = v.shape[-1]
    eye = _eye(n, v)
    return _const(1 - eye._data) / (v.unsqueeze(-2) - v.unsqueeze(-1) + eye)


def _dtype_name(a):
    return _dt.from_numpy_dtype(a.dtype).name


def _check_float(name, *arrays):
    for a in arrays:
        if a.dtype.kind not in "fc":
            raise RuntimeError(f"{name}: expected a floating point tensor as input, "
                               f"got {_dtype_name(a)} of shape {a.shape}")


def _check_square(name, a):
    _check_float(name, a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but got shape {a.shape}")


def _check_same_dtype(name, *arrays):
    if any(a.dtype != arrays[0].dtype for a in arrays):
        dts = " and ".join(_dtype_name(a) for a in arrays)
        raise RuntimeError(f"{name}: expected all operands to have the same dtype, but got {dts}")


def _singular(name):
    return RuntimeError(f"{name}: the input matrix is singular, the operation could not be completed")


# --- matrix products -----------------------------------------------------------------------

class Matmul(Op):
    """x @ y: vector-vector, matrix-vector, matrix-matrix and broadcast batches of these."""

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        (x, y), (bx, by) = args, batched
        vx, vy = ndim_of(x, bx) == 1, ndim_of(y, by) == 1
        if ndim_of(x, bx) == 0 or ndim_of(y, by) == 0:
            return loop(cls, n, args, batched, kwargs)      # (matmul's own error)
        x, y = x.unsqueeze(-2) if vx else x, y.unsqueeze(-1) if vy else y   # vectors as matrices
        if bx and by:
            out = per_element_matmul(n, x, y)
        elif bx and y.ndim == 2:            # a batch of matrices times one: a single product
            out = (_rows(x) @ y).reshape(tuple(x.shape[:-1]) + (y.shape[-1],))
        elif by and x.ndim == 2:
            yt = y.mT
            out = (_rows(yt) @ x.mT).reshape(tuple(yt.shape[:-1]) + (x.shape[0],)).mT
        else:
            rank = max(ndim_of(x, bx), ndim_of(y, by))
            out = cls.apply(lift(x, rank) if bx else x, lift(y, rank) if by else y)
        if vx:
            out = out.squeeze(-2)
        return out.squeeze(-1) if vy else out

    def forward(ctx, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise RuntimeError(f"matmul: both arguments need to be at least 1D, but they are "
                               f"{x.ndim}D and {y.ndim}D")
        if x.dtype != y.dtype:
            raise RuntimeError(f"matmul: expected both operands to have the same dtype, but got "
                               f"{_dtype_name(x)} and {_dtype_name(y)} (shapes {x.shape} and {y.shape})")
        if x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            raise RuntimeError(f"matmul: shapes {x.shape} and {y.shape} cannot be multiplied")
        return xp.matmul(x, y)

    def vjp(ctx, g):
        x, y = ctx.inputs
        need_x, need_y = ctx.needs_input_grad
        if x.dtype.is_complex:                   # PyTorch's convention: conjugate transposes
            x, y = _c(x), _c(y)
        if x.ndim == 2 and y.ndim == 2:          # the hot path: plain matrices
            return (g @ y.mT if need_x else None), (x.mT @ g if need_y else None)
        x_vec, y_vec = x.ndim == 1, y.ndim == 1
        if y_vec:                                # vectors act as (1, k) and (k, 1) matrices
            y, g = y.reshape(-1, 1), g.reshape(*g.shape, 1)
        if x_vec:
            x, g = x.reshape(1, -1), g.reshape(*g.shape[:-1], 1, g.shape[-1])
        gx = gy = None
        if need_x:
            gx = g @ y.mT
            if x_vec:
                gx = gx.reshape(*gx.shape[:-2], gx.shape[-1])
        if need_y:
            if y.ndim == 2 and g.ndim > 2:       # one matrix for a whole batch (nn.Linear)
                gy = x.reshape(-1, x.shape[-1]).mT @ g.reshape(-1, g.shape[-1])
            else:
                gy = x.mT @ g
            if y_vec:
                gy = gy.reshape(gy.shape[:-1])
        return gx, gy

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return dx @ y + x @ dy


class PerElementMatmul(Op):
    """a[i] @ b[i] for each i along dim 0 of a (n, M, K) and b (n, K, N): vmap's product of
    two batched matrices.  One matrix product when an operand is the same for every i (a
    stride-0 batch, as weights expanded for per-sample gradients are), a broadcast product
    for K = 1 (outer products)."""

    op_name = "matmul"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        """Under an outer vmap (nested vmaps): the outer batch joins the per-element one."""
        a, b = (x if bx else x.unsqueeze(0).expand((n,) + tuple(x.shape)) for x, bx in zip(args, batched))
        return per_element_matmul(n, a, b)

    def forward(ctx, a, b):
        (n, m, k), p = a.shape, b.shape[2]
        if b.strides[0] == 0:
            return (a.reshape(n * m, k) @ b[0]).reshape(n, m, p)
        if a.strides[0] == 0:
            return (a[0] @ b.transpose(1, 0, 2).reshape(k, n * p)).reshape(m, n, p).transpose(1, 0, 2)
        if k == 1:
            return a * b
        return xp.matmul(a, b)

    def vjp(ctx, g):
        need_a, need_b = ctx.needs_input_grad
        return (PerElementMatmul.apply(g, _c(ctx.input(1)).mT) if need_a else None,
                PerElementMatmul.apply(_c(ctx.input(0)).mT, g) if need_b else None)

    def jvp(ctx, da, db):
        a, b = ctx.args
        return PerElementMatmul.apply(da, b) + PerElementMatmul.apply(a, db)


def _rows(x):
    """x (..., K) as a matrix of rows (..., K) -> (prod(...), K)."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


def per_element_matmul(n, x, y):
    """x @ y for physical x (n, *lead, M, K) and y (n, *lead', K, N), batch dims broadcast:
    one PerElementMatmul over the batch times the broadcast leading dims."""
    rank = max(x.ndim, y.ndim)
    x, y = lift(x, rank - 1), lift(y, rank - 1)
    lead = tuple(xp.broadcast_shapes(tuple(x.shape[:-2]), tuple(y.shape[:-2])))
    x = x.expand(lead + tuple(x.shape[-2:]))
    y = y.expand(lead + tuple(y.shape[-2:]))
    count = math.prod(lead)
    out = PerElementMatmul.apply(x.reshape((count,) + tuple(x.shape[-2:])),
                                 y.reshape((count,) + tuple(y.shape[-2:])))
    return out.reshape(lead + tuple(out.shape[-2:]))


def _check_ndim(name, x, y, nx, ny):
    if x.ndim != nx or y.ndim != ny:
        kinds = {1: "a vector", 2: "a matrix", 3: "a 3D tensor"}
        raise RuntimeError(f"{name}: expected {kinds[nx]} and {kinds[ny]}, but got shapes "
                           f"{tuple(x.shape)} and {tuple(y.shape)}")


def matmul(input, other, *, out=None):
    if isinstance(input, SparseCOOTensor) or isinstance(other, SparseCOOTensor):
        return _sparse_matmul(input, other)
    return Matmul.apply(input, other)


def mm(input, mat2, *, out=None):
    if isinstance(input, SparseCOOTensor) or isinstance(mat2, SparseCOOTensor):
        return _sparse_matmul(input, mat2)
    _check_ndim("mm", input, mat2, 2, 2)
    return Matmul.apply(input, mat2)


def bmm(input, mat2, *, out=None):
    _check_ndim("bmm", input, mat2, 3, 3)
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return Matmul.apply(input, mat2)


def mv(input, vec, *, out=None):
    _check_ndim("mv", input, vec, 2, 1)
    return Matmul.apply(input, vec)


def dot(input, other, *, out=None):
    _check_ndim("dot", input, other, 1, 1)
    if input.shape != other.shape:
        raise RuntimeError(f"dot: expected both vectors to have the same number of elements, but got "
                           f"shapes {tuple(input.shape)} and {tuple(other.shape)}")
    return Matmul.apply(input, other)


vdot = dot          # real tensors: no conjugation


def inner(input, other, *, out=None):
    """Sum over the last dimension of both: shape input.shape[:-1] + other.shape[:-1]."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return tensordot(input, other, dims=([-1], [-1]))


def outer(input, vec2, *, out=None):
    _check_ndim("outer", input, vec2, 1, 1)
    return input.reshape(-1, 1) * vec2


ger = outer


def _scaled_sum(input, product, beta, alpha):
    """beta * input + alpha * product; with beta == 0, input is ignored (even nan)."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return (input if beta == 1 else input * beta) + product


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha)


def multi_dot(tensors, *, out=None):
    """A chain of matrix products; the first and last may be vectors."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot: expected at least 2 tensors but got {len(tensors)}")
    result = tensors[0]
    for t in tensors[1:]:
        result = Matmul.apply(result, t)
    return result


def chain_matmul(*matrices, out=None):
    return matrices[0] if len(matrices) == 1 else multi_dot(matrices)


def matrix_power(input, n):
    """A^n by repeated squaring; negative n uses the inverse, n == 0 the identity."""
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but got "
                           f"shape {tuple(input.shape)}")
    if n == 0:
        return _eye(input.shape[-1], input).expand(input.shape)
    base = inv(input) if n < 0 else input
    n, result = abs(n), None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


# --- einsum and friends -------------------------------------------------------------------

class Einsum(Op):
    """Einstein summation.  The equation is made explicit first (ellipses and implicit output
    replaced by letters, size-1 dimensions that broadcast dropped), so that the VJP for each
    operand is again an einsum: of the output gradient with the other operands, into that
    operand's subscripts."""

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        shapes = [tuple(a.shape[1:]) if b else tuple(a.shape) for a, b in zip(args, batched)]
        subs, out, _ = _parse_einsum(kwargs["equation"], shapes)
        z = next(c for c in string.ascii_letters if c not in "".join(subs) + out)   # the batch
        equation = ",".join(z + sub if b else sub for sub, b in zip(subs, batched)) + "->" + z + out
        return cls.apply(*args, equation=equation)

    def forward(ctx, *operands, equation):
        _check_same_dtype("einsum", *operands)
        ctx.shapes = [a.shape for a in operands]
        ctx.subs, ctx.out, ctx.sizes = _parse_einsum(equation, ctx.shapes)
        # A size-1 dim that broadcasts against a larger size is dropped from its operand.
        ctx.squeezed = [tuple(n for c, n in zip(sub, shape) if n == ctx.sizes[c])
                        for sub, shape in zip(ctx.subs, ctx.shapes)]
        ctx.subs = ["".join(c for c, n in zip(sub, shape) if n == ctx.sizes[c])
                    for sub, shape in zip(ctx.subs, ctx.shapes)]
        operands = [a.reshape(sq) if len(sq) != a.ndim else a for a, sq in zip(operands, ctx.squeezed)]
        return xp.einsum(",".join(ctx.subs) + "->" + ctx.out, *operands, optimize=len(operands) > 2)

    def _fit(ctx, t, k):
        """Operand (or tangent) k in the shape its subscripts describe."""
        return t.reshape(ctx.squeezed[k]) if t.ndim != len(ctx.squeezed[k]) else t

    def vjp(ctx, g):
        ops = ctx.inputs
        unused = iter(sorted(set(string.ascii_letters) - set("".join(ctx.subs) + ctx.out)))
        grads = []
        for k, target in enumerate(ctx.subs):
            if not ctx.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [j for j in range(len(ops)) if j != k]
            subs = [ctx.out] + [ctx.subs[j] for j in others]
            tensors = [g] + [ctx._fit(ops[j], j) for j in others]
            present, result = set("".join(subs)), ""
            for c in target:
                if c in result:                  # repeated index (a diagonal): embed it
                    fresh = next(unused)
                    subs.append(c + fresh)
                    tensors.append(_eye(ctx.sizes[c], g))
                    c = fresh
                elif c not in present:           # summed only here: broadcast back with ones
                    subs.append(c)
                    tensors.append(_const(ones(ctx.sizes[c], dtype=g.dtype.np, like=array_of(g))))
                    present.add(c)
                result += c
            grad = Einsum.apply(*tensors, equation=",".join(subs) + "->" + result)
            grads.append(grad.reshape(ctx.shapes[k]) if grad.ndim != len(ctx.shapes[k]) else grad)
        return tuple(grads)

    def jvp(ctx, *tangents):
        ops = ctx.args
        equation = ",".join(ctx.subs) + "->" + ctx.out
        total = None
        for k, dt in enumerate(tangents):
            terms = [ctx._fit(dt if j == k else t, j) for j, t in enumerate(ops)]
            term = Einsum.apply(*terms, equation=equation)
            total = term if total is None else total + term
        return total


def _parse_einsum(equation, shapes):
    """Explicit subscripts per operand, the output subscripts and the size of each letter
    (the largest: size-1 dims broadcast)."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise RuntimeError(f"einsum(): the equation '{equation}' has {len(ins)} operands but "
                           f"{len(shapes)} were given")
    free = iter(sorted(set(string.ascii_letters) - set(eq)))
    n_ell = max((len(s) - len(sub) + 3 for sub, s in zip(ins, shapes) if "..." in sub), default=0)
    ell = "".join(next(free) for _ in range(n_ell))
    subs = []
    for k, (sub, shape) in enumerate(zip(ins, shapes)):
        if "..." in sub:
            sub = sub.replace("...", ell[n_ell - (len(shape) - len(sub) + 3):])
        if len(sub) != len(shape) or not all(c in string.ascii_letters for c in sub):
            raise RuntimeError(f"einsum(): the subscripts '{ins[k]}' do not match the {len(shape)} "
                               f"dimensions of operand {k} (shape {tuple(shape)})")
        subs.append(sub)
    if arrow:
        out = out.replace("...", ell)
    else:
        letters = "".join(subs)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    sizes = {}
    for sub, shape in zip(subs, shapes):
        for c, n in zip(sub, shape):
            m = sizes.setdefault(c, n)
            if m == 1:
                sizes[c] = n
            elif n not in (1, m):
                raise RuntimeError(f"einsum(): operands do not broadcast: subscript '{c}' has sizes "
                                   f"{m} and {n} (shapes {', '.join(str(tuple(s)) for s in shapes)})")
    for c in out:
        if c not in sizes:
            raise RuntimeError(f"einsum(): output subscript '{c}' does not appear in the inputs of '{equation}'")
    return subs, out, sizes


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return Einsum.apply(*operands, equation=equation)


def tensordot(a, b, dims=2, out=None):
    """Contract the last `dims` dims of a with the first of b, or the listed pairs."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot: expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError(f"tensordot: both dimension lists should have the same length, got "
                           f"{dims_a} and {dims_b}")
    letters = iter(string.ascii_letters)
    sub_a = [next(letters) for _ in range(a.ndim)]
    sub_b = [next(letters) for _ in range(b.ndim)]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has size "
                               f"{a.shape[da]} in dim {da} and second has size {b.shape[db]} in dim {db}")
        sub_b[db % b.ndim] = sub_a[da % a.ndim]
    contracted = {sub_a[d % a.ndim] for d in dims_a}
    out = "".join(c for c in sub_a + sub_b if c not in contracted)
    return Einsum.apply(a, b, equation=f"{''.join(sub_a)},{''.join(sub_b)}->{out}")


def kron(input, other, *, out=None):
    """Kronecker product: every element of input scales a copy of other."""
    nd = max(input.ndim, other.ndim)
    sa = (1,) * (nd - input.ndim) + tuple(input.shape)
    sb = (1,) * (nd - other.ndim) + tuple(other.shape)
    a = input.reshape([s for n in sa for s in (n, 1)])
    b = other.reshape([s for n in sb for s in (1, n)])
    return (a * b).reshape([p * q for p, q in zip(sa, sb)])


class Trace(Op):
    @classmethod
    def batch(cls, n, args, batched, kwargs):
        return args[0].diagonal(0, 1, 2).sum(-1)

    def forward(ctx, x):
        if x.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got a tensor of shape {x.shape}")
        ctx.shape = x.shape
        return as_array(xp.trace(x, dtype=xp.int64 if x.dtype.kind in "biu" else None))

    def vjp(ctx, g):
        return g * _const(eye(*ctx.shape, dtype=g.dtype.np, like=array_of(g)))

    def jvp(ctx, dx):
        return trace(dx)


def trace(input):
    return Trace.apply(input)


class Cross(Op):
    promote = "common"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        rank = max(ndim_of(a, b) for a, b in zip(args, batched))
        x, y = (lift(materialize(a, n, b), rank) for a, b in zip(args, batched))
        return cls.apply(x, y, dim=shift(kwargs["dim"], rank))

    def forward(ctx, x, y, dim):
        if x.shape[dim] != 3 or y.shape[dim] != 3:
            raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3, but got "
                               f"shapes {x.shape} and {y.shape}")
        ctx.dim = dim
        return xp.cross(x, y, axis=dim)

    def vjp(ctx, g):
        x, y = ctx.inputs
        return Cross.apply(y, g, dim=ctx.dim), Cross.apply(g, x, dim=ctx.dim)

    def jvp(ctx, dx, dy):
        x, y = ctx.args
        return Cross.apply(dx, y, dim=ctx.dim) + Cross.apply(x, dy, dim=ctx.dim)


def cross(input, other, dim=None, *, out=None):
    """torch.cross: without dim, the first dimension of size 3."""
    if dim is None:
        dim = next((i for i, n in enumerate(input.shape) if n == 3), -1)
    return Cross.apply(input, other, dim=dim)


def linalg_cross(input, other, *, dim=-1, out=None):
    return Cross.apply(input, other, dim=dim)


# --- inverse, determinant, solve -------------------------------------------------------------

class Inv(Op):
    op_name = "linalg.inv"

    batch = leading

    def forward(ctx, a):
        _check_square("linalg.inv", a)
        try:
            return xp.linalg.inv(a)
        except xp.linalg.LinAlgError:
            raise _singular("linalg.inv") from None

    def vjp(ctx, g):
        y = ctx.output.mT
        return -(y @ g @ y)

    def jvp(ctx, da):
        y = ctx.output
        return -(y @ da @ y)


def inv(A, *, out=None):
    return Inv.apply(A)


inverse = inv


class Det(Op):
    op_name = "linalg.det"

    batch = leading

    def forward(ctx, a):
        _check_square("linalg.det", a)
        return as_array(xp.linalg.det(a))

    def vjp(ctx, g):
        return _mat(g * ctx.output) * inv(ctx.inputs[0]).mT

    def jvp(ctx, da):
        return ctx.output * (inv(ctx.args[0]).mT * da).sum((-2, -1))


def det(A, *, out=None):
    return Det.apply(A)


class Slogdet(Op):
    """(sign, log|det|); only log|det| carries a gradient."""

    op_name = "linalg.slogdet"
    n_out = 2

    batch = leading

    def forward(ctx, a):
        _check_square("linalg.slogdet", a)
        sign, logabs = xp.linalg.slogdet(a)
        return as_array(sign), as_array(logabs)

    def vjp(ctx, g_sign, g_logabs):
        return _mat(g_logabs) * inv(ctx.inputs[0]).mT

    def jvp(ctx, da):
        sign = ctx.outputs[0]
        return _const(xp.zeros_like(sign._data)), (inv(ctx.args[0]).mT * da).sum((-2, -1))


SlogdetResult = collections.namedtuple("slogdet", ["sign", "logabsdet"])


def slogdet(A, *, out=None):
    return SlogdetResult(*Slogdet.apply(A))


class Logdet(Op):
    """log(det A): nan for a negative determinant, -inf for a singular matrix."""

    batch = leading

    def forward(ctx, a):
        _check_square("logdet", a)
        sign, logabs = xp.linalg.slogdet(a)
        return as_array(xp.where(sign < 0, xp.nan, logabs))

    def vjp(ctx, g):
        return _mat(g) * inv(ctx.inputs[0]).mT

    def jvp(ctx, da):
        return (inv(ctx.args[0]).mT * da).sum((-2, -1))


def logdet(input):
    return Logdet.apply(input)


class Solve(Op):
    """X with A X = B; B is a (batch of) vector(s) when it has A's shape without the last dim."""

    op_name = "linalg.solve"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        (a, b), (ba, bb) = args, batched
        na, nb = ndim_of(a, ba), ndim_of(b, bb)
        a, b = materialize(a, n, ba), materialize(b, n, bb)
        if nb == 1 or (nb == na - 1 and tuple(b.shape[1:]) == tuple(a.shape[1:-1])):   # vectors
            rank = max(na - 1, nb)
            a, b = lift(a, rank + 1), lift(b, rank)
            lead = tuple(xp.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-1])))
            return cls.apply(a.expand(lead + tuple(a.shape[-2:])), b.expand(lead + tuple(b.shape[-1:])))
        rank = max(na, nb)
        return cls.apply(lift(a, rank), lift(b, rank))

    def forward(ctx, a, b):
        _check_square("linalg.solve", a)
        _check_same_dtype("linalg.solve", a, b)
        ctx.vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
        if b.shape[-1 if ctx.vector else -2] != a.shape[-1]:
            raise RuntimeError(f"linalg.solve: incompatible shapes of A and B: {a.shape} and {b.shape}")
        try:
            x = xp.linalg.solve(a, b[..., None] if ctx.vector else b)
        except xp.linalg.LinAlgError:
            raise _singular("linalg.solve") from None
        return x[..., 0] if ctx.vector else x

    def vjp(ctx, g):
        a, _ = ctx.inputs
        x = ctx.output
        gb = solve(a.mT, g)
        if not ctx.needs_input_grad[0]:
            return None, gb
        ga = -(gb.unsqueeze(-1) * x.unsqueeze(-2) if ctx.vector else gb @ x.mT)
        return ga, gb

    def jvp(ctx, da, db):
        a, _ = ctx.args
        x = ctx.output
        dax = (da @ x.unsqueeze(-1)).squeeze(-1) if ctx.vector else da @ x
        return solve(a, db - dax)


def solve(A, B, *, left=True, out=None):
    if left:
        return Solve.apply(A, B)
    return Solve.apply(A.mT, B.mT).mT          # X A = B  <=>  A^T X^T = B^T


class SolveTriangular(Op):
    """X with A X = B for triangular A: only A's upper (or lower) triangle is read, and
    with unitriangular its diagonal is taken to be ones."""

    op_name = "linalg.solve_triangular"

    @classmethod
    def batch(cls, n, args, batched, kwargs):
        a, b = (lift(materialize(t, n, bt), max(ndim_of(*p) for p in zip(args[:2], batched[:2])))
                for t, bt in zip(args[:2], batched[:2]))
        lead = tuple(xp.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
        return cls.apply(a.expand(lead + tuple(a.shape[-2:])), b.expand(lead + tuple(b.shape[-2:])),
                         *args[2:], **kwargs)

    def forward(ctx, a, b, upper, unitriangular=False):
        _check_square("linalg.solve_triangular", a)
        _check_same_dtype("linalg.solve_triangular", a, b)
        ctx.upper, ctx.unit = upper, unitriangular
        a = xp.triu(a) if upper else xp.tril(a)
        if unitriangular:
            i = eye(a.shape[-1], dtype=a.dtype, like=a)
            a = a * (1 - i) + i
        try:
            return xp.linalg.solve(a, b)
        except xp.linalg.LinAlgError:
            raise _singular("linalg.solve_triangular") from None

    def _triangle(ctx, t):
        """The part of a matrix that the solve reads."""
        return (t.triu(1 if ctx.unit else 0) if ctx.upper else t.tril(-1 if ctx.unit else 0))

    def vjp(ctx, g):
        a, _ = ctx.inputs
        gb = SolveTriangular.apply(a.mT, g, upper=not ctx.upper, unitriangular=ctx.unit)
        ga = ctx._triangle(-(gb @ ctx.output.mT)) if ctx.needs_input_grad[0] else None
        return ga, gb

    def jvp(ctx, da, db):
        a, _ = ctx.args
        return SolveTriangular.apply(a, db - ctx._triangle(da) @ ctx.output, upper=ctx.upper,
                                     unitriangular=ctx.unit)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    if left:
        return SolveTriangular.apply(A, B, upper=upper, unitriangular=unitriangular)
    return SolveTriangular.apply(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT


def cholesky_solve(B, L, upper=False, *, out=None):
    """X with (L L^T) X = B, given the Cholesky factor L (or U = L^T when upper)."""
    if upper:
        L = L.mT
    return solve_triangular(L.mT, solve_triangular(L, B, upper=False), upper=True)


# --- decompositions ------------------------------------------------------------------------

class Cholesky(Op):
    """Lower-triangular L with A = L L^T (A symmetric positive-definite)."""

    op_name = "linalg.cholesky"

    batch = leading

    def forward(ctx, a):
        _check_square("linalg.cholesky", a)
        try:
            return xp.linalg.cholesky(a)
        except xp.linalg.LinAlgError:
            raise RuntimeError("linalg.cholesky: The factorization could not be completed because the "
                               "input is not positive-definite") from None

    def vjp(ctx, g):
        L = ctx.output
        Linv = inv(L)
        P = (L.mT @ g).tril()
        P = 0.5 * (P + P.tril(-1).mT)             # symmetric, with P's lower triangle halved
        return Linv.mT @ P @ Linv

    def jvp(ctx, da):
        L = ctx.output
        Linv = inv(L)
        X = Linv @ da @ Linv.mT
        return L @ (X.tril() - 0.5 * X * _eye(X.shape[-1], X))   # Phi: lower, diagonal halved


def cholesky(A, upper=False, *, out=None):
    L = Cholesky.apply(A)
    return L.mT if upper else L


class QR(Op):
    """A = Q R, Q with orthonormal columns, R upper triangular (reduced or complete)."""

    op_name = "linalg.qr"
    n_out = 2

    batch = leading

    def forward(ctx, a, mode="reduced"):
        _check_float("linalg.qr", a)
        if mode not in ("reduced", "complete", "r"):
            raise RuntimeError(f"linalg.qr: qr received unrecognized mode '{mode}' but expected one of "
                               "'reduced' (default), 'r', or 'complete'")
        ctx.mode = mode
        q, r = xp.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        if mode == "r":
            q = xp.empty((0,), dtype=a.dtype, like=a)
        return q, r

    def _check(ctx, m, n):
        if m < n or ctx.mode == "r" or (ctx.mode == "complete" and m > n):
            raise RuntimeError("linalg.qr: the derivative is implemented for inputs with m >= n in "
                               "reduced mode (or square inputs)")

    def vjp(ctx, gQ, gR):
        a = ctx.inputs[0]
        ctx._check(*a.shape[-2:])
        Q, R = ctx.outputs
        M = R @ gR.mT - gQ.mT @ Q
        M = M.tril() + M.tril(-1).mT              # copy the lower triangle to the upper
        return solve(R, (gQ + Q @ M).mT).mT        # (gQ + Q M) R^{-T}

    def jvp(ctx, da):
        ctx._check(*ctx.args[0].shape[-2:])
        Q, R = ctx.outputs
        B = solve(R.mT, da.mT).mT                  # dA R^{-1}
        C = Q.mT @ B
        low = C.tril(-1)
        upper = C - low + low.mT                   # dR R^{-1}; C - upper = Q^T dQ is skew
        return B - Q @ upper, upper @ R


QRResult = collections.namedtuple("qr", ["Q", "R"])


def linalg_qr(A, mode="reduced", *, out=None):
    return QRResult(*QR.apply(A, mode=mode))


def qr(input, some=True, *, out=None):
    """torch.qr: reduced unless some=False."""
    return QRResult(*QR.apply(input, mode="reduced" if some else "complete"))


class Eigh(Op):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix; only the
    triangle named by UPLO is read."""

    op_name = "linalg.eigh"
    n_out = 2

    batch = leading

    def forward(ctx, a, UPLO="L"):
        _check_square("linalg.eigh", a)
        return xp.linalg.eigh(a, UPLO=UPLO)

    def vjp(ctx, gL, gV):
        L, V = ctx.outputs
        VtgV = V.mT @ gV
        inner = _inv_gaps(L) * (0.5 * (VtgV - VtgV.mT)) + gL.diag_embed()
        return V @ inner @ V.mT

    def jvp(ctx, da):
        L, V = ctx.outputs
        dP = V.mT @ da @ V
        return dP.diagonal(dim1=-2, dim2=-1), V @ (_inv_gaps(L) * dP)


EighResult = collections.namedtuple("eigh", ["eigenvalues", "eigenvectors"])


def eigh(A, UPLO="L", *, out=None):
    return EighResult(*Eigh.apply(A, UPLO=UPLO))


def eigvalsh(A, UPLO="L", *, out=None):
    return Eigh.apply(A, UPLO=UPLO)[0]


class SVD(Op):
    """A = U diag(S) Vh.  Gradients are those of the reduced SVD (distinct singular values);
    with full_matrices, the columns beyond min(m, n) get no gradient, as in PyTorch."""

    op_name = "linalg.svd"
    n_out = 3

    batch = leading

    def forward(ctx, a, full_matrices=True):
        _check_float("linalg.svd", a)
        if a.ndim < 2:
            raise RuntimeError(f"linalg.svd: expected a (batch of) matrices, but got shape {a.shape}")
        ctx.full = full_matrices
        return xp.linalg.svd(a, full_matrices=full_matrices)

    def _reduced(ctx, U, Vh, m, n):
        k = min(m, n)
        if ctx.full and m != n:
            return U[..., :k], Vh[..., :k, :]
        return U, Vh

    def vjp(ctx, gU, gS, gVh):
        m, n = ctx.inputs[0].shape[-2:]
        U, S, Vh = ctx.outputs
        U, Vh = ctx._reduced(U, Vh, m, n)
        gU, gVh = ctx._reduced(gU, gVh, m, n)
        V, gV = Vh.mT, gVh.mT
        F = _inv_gaps(S * S)
        UtgU, VtgV = U.mT @ gU, V.mT @ gV
        inner = (F * (UtgU - UtgU.mT) * S.unsqueeze(-2) + S.unsqueeze(-1) * (F * (VtgV - VtgV.mT))
                 + gS.diag_embed())
        if m > n:       # the part of gU outside the column space of U
            gUS = gU / S.unsqueeze(-2)
            return (U @ inner + gUS - U @ (U.mT @ gUS)) @ Vh
        if m < n:
            gVS = gV / S.unsqueeze(-2)
            return U @ (inner @ Vh + gVS.mT - (gVS.mT @ V) @ Vh)
        return U @ inner @ Vh

    def jvp(ctx, da):
        m, n = ctx.args[0].shape[-2:]
        if ctx.full and m != n:
            raise RuntimeError("linalg.svd: the forward-mode derivative is not defined for "
                               "full_matrices=True on non-square inputs; use full_matrices=False")
        U, S, Vh = ctx.outputs
        V = Vh.mT
        dP = U.mT @ da @ V
        F = _inv_gaps(S * S)
        dU = U @ (F * (dP * S.unsqueeze(-2) + S.unsqueeze(-1) * dP.mT))
        dV = V @ (F * (S.unsqueeze(-1) * dP + dP.mT * S.unsqueeze(-2)))
        if m > n:
            dU = dU + (da @ V - U @ dP) / S.unsqueeze(-2)
        if m < n:
            dV = dV + (da.mT @ U - V @ dP.mT) / S.unsqueeze(-2)
        return dU, dP.diagonal(dim1=-2, dim2=-1), dV.mT


SVDResult = collections.namedtuple("svd", ["U", "S", "V"])
LinalgSVDResult = collections.namedtuple("linalg_svd", ["U", "S", "Vh"])


def linalg_svd(A, full_matrices=True, *, driver=None, out=None):
    return LinalgSVDResult(*SVD.apply(A, full_matrices=full_matrices))


def svd(input, some=True, compute_uv=True, *, out=None):
    """torch.svd: U, S, V (not V^T); reduced unless some=False."""
    U, S, Vh = SVD.apply(input, full_matrices=not some)
    if not compute_uv:
        return SVDResult(_const(xp.zeros_like(U._data)), S, _const(xp.zeros_like(Vh._data)))
    return SVDResult(U, S, Vh.mT)


def svdvals(A, *, driver=None, out=None):
    return SVD.apply(A, full_matrices=False)[1]


class Pinv(Op):
    """Moore-Penrose pseudo-inverse; singular values <= max(atol, rtol * largest) are dropped.
    Its derivative assumes the rank does not change nearby (as PyTorch's)."""

    op_name = "linalg.pinv"

    batch = leading

    def forward(ctx, a, atol=None, rtol=None):
        _check_float("linalg.pinv", a)
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        if rtol is None:
            rtol = 0.0 if atol is not None and atol > 0 else max(a.shape[-2:]) * xp.finfo(a.dtype).eps
        cutoff = xp.maximum(atol or 0.0, rtol * s[..., :1]) if s.shape[-1] else 0.0
        s_inv = xp.where(s > cutoff, 1 / xp.where(s > cutoff, s, 1), 0).astype(a.dtype)
        return xp.swapaxes(vh, -1, -2) * s_inv[..., None, :] @ xp.swapaxes(u, -1, -2)

    def vjp(ctx, g):
        a = ctx.inputs[0]
        P = ctx.output
        Pt, gt = P.mT, g.mT
        PG = P @ gt
        return (-Pt @ (g @ Pt) + (gt - a @ PG) @ (P @ Pt) + Pt @ (PG - PG @ (P @ a)))

    def jvp(ctx, da):
        a = ctx.args[0]
        P = ctx.output
        dat = da.mT
        return (-P @ da @ P + (P @ P.mT) @ (dat - (dat @ a) @ P)
                + (dat - P @ (a @ dat)) @ (P.mT @ P))


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    return Pinv.apply(A, atol=atol, rtol=rtol)


def pinverse(input, rcond=1e-15):
    return Pinv.apply(input, rtol=rcond)


class MatrixRank(Op):
    """The number of singular values above the tolerance (an int64 count)."""

    op_name = "linalg.matrix_rank"

    batch = leading

    def forward(ctx, a, atol=None, rtol=None):
        _check_float("linalg.matrix_rank", a)
        s = xp.linalg.svd(a, compute_uv=False)
        if rtol is None:
            rtol = 0.0 if atol is not None and atol > 0 else max(a.shape[-2:]) * xp.finfo(a.dtype).eps
        cutoff = xp.maximum(atol or 0.0, rtol * s[..., :1])
        return as_array((s > cutoff).sum(-1), dtype=xp.int64)

    def jvp(ctx, da):
        return None                     # an integer count: no tangent


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None, out=None):
    return MatrixRank.apply(A, atol=tol if tol is not None else atol, rtol=rtol)


LstsqResult = collections.namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution pinv(A) @ B (differentiable through pinv, as PyTorch's).

    As with PyTorch's default driver 'gelsy', residuals and singular values are empty;
    drivers 'gelsd' and 'gelss' also return the singular values, and the residuals when
    m > n and A has full rank."""
    X = pinv(A, rtol=rcond) @ B
    rank = matrix_rank(A, rtol=rcond)
    empty = _const(xp.empty((0,), dtype=A.dtype.np, like=array_of(A)))
    residuals, sv = empty, empty
    if driver in ("gelsd", "gelss"):
        sv = svdvals(A)
        m, n = A.shape[-2:]
        if m > n and bool(physical(rank == n).all()):
            r = A @ X - B
            residuals = (r * r).sum(-2)
    return LstsqResult(X, residuals, rank, sv)


# --- norms ---------------------------------------------------------------------------------

def _vector_norm(a, ord, axis, keepdims):
    """NumPy's linalg.vector_norm of a = |x|, with the functions that CuPy has too."""
    if ord == math.inf:
        return a.max(axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return a.min(axis=axis, keepdims=keepdims)
    if ord == 0:
        return (a != 0).sum(axis=axis, keepdims=keepdims, dtype=a.dtype)
    if ord == 1:
        return a.sum(axis=axis, keepdims=keepdims)
    if ord == 2:
        return xp.sqrt((a * a).sum(axis=axis, keepdims=keepdims))
    return (a ** ord).sum(axis=axis, keepdims=keepdims) ** (1 / ord)


class VectorNorm(Op):
    """(sum |x|^p)^(1/p) over dims; ord inf/-inf are max/min |x|, ord 0 counts non-zeros.
    Where the norm is 0, the gradient is 0 (PyTorch's subgradient)."""

    op_name = "linalg.vector_norm"

    batch = along("dim")

    def forward(ctx, x, ord=2, dim=None, keepdim=False):
        if x.dtype.kind not in "fc":
            raise RuntimeError(f"linalg.vector_norm: expected a floating point tensor as input, "
                               f"got {_dtype_name(x)}")
        ctx.ord, ctx.keepdim, ctx.shape = ord, keepdim, x.shape
        ctx.dims = _dims(dim, x.ndim) if x.ndim else ()
        if (ord < 0 or ord == math.inf) and any(x.shape[d] == 0 for d in ctx.dims):
            raise RuntimeError(f"linalg.vector_norm: cannot compute the {ord} norm of an empty tensor "
                               "(the operation has no identity)")
        return as_array(_vector_norm(xp.abs(x), ord, ctx.dims if x.ndim else None, keepdim), x.dtype)

    def _parts(ctx, x):
        """sign(x) and the masks where x and the (broadcast) norm are zero, as constants."""
        n = ctx.output
        if not ctx.keepdim:
            n = _expand_back(n, ctx.shape, ctx.dims, False)
        return _const(xp.sign(x._data)), n

    def _scale(ctx, x, sign, n):
        """d norm / d x, with 0 where the norm is 0 (n broadcast to x's shape)."""
        p = ctx.ord
        zero = n._data == 0
        n_safe = n + _const(zero.astype(n._data.dtype))
        nz = _const(~zero)
        if p == 1:
            return sign
        if p == 2:
            return x / n_safe * nz
        if p in (float("inf"), float("-inf")):
            mask = xp.abs(x._data) == n._data
            count = mask.sum(axis=ctx.dims, keepdims=True)
            return sign * _const((mask / count).astype(x._data.dtype))
        ax = x * sign + _const((x._data == 0).astype(x._data.dtype))   # |x|, 1 where x == 0
        return sign * ax ** (p - 1) * _const(x._data != 0) / n_safe ** (p - 1) * nz

    def vjp(ctx, g):
        x = ctx.inputs[0]
        if ctx.ord == 0:
            return _const(xp.zeros_like(x._data))
        sign, n = ctx._parts(x)
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * ctx._scale(x, sign, n)

    def jvp(ctx, dx):
        x = ctx.args[0]
        if ctx.ord == 0:
            return _const(xp.zeros_like(ctx.output._data))
        sign, n = ctx._parts(x)
        return (ctx._scale(x, sign, n) * dx).sum(ctx.dims, keepdim=ctx.keepdim)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    if dtype is not None:
        x = x.to(dtype)
    return VectorNorm.apply(x, ord=ord, dim=dim, keepdim=keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Frobenius, nuclear, spectral (2, -2) and max column / row sum (1, -1, inf, -inf) norms."""
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: the input tensor A must have at least 2 dimensions, "
                           f"got shape {tuple(A.shape)}")
    d0, d1 = _dims(dim[0], A.ndim)[0], _dims(dim[1], A.ndim)[0]
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different, got {tuple(dim)}")
    if ord == "fro":
        return vector_norm(A, 2, dim=(d0, d1), keepdim=keepdim)
    inf = float("inf")
    if ord in (1, -1, inf, -inf):
        # max/min over one dim of the sums of |a| over the other: two vector norms.
        inner_dim, outer_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = vector_norm(A, 1, dim=inner_dim, keepdim=True)
        out = vector_norm(sums, inf if ord > 0 else -inf, dim=outer_dim, keepdim=True)
    elif ord in ("nuc", 2, -2):
        last = (d0, d1) == (A.ndim - 2, A.ndim - 1)
        rest = [i for i in range(A.ndim) if i not in (d0, d1)]
        S = svdvals(A if last else A.permute(*rest, d0, d1))
        out = S.sum(-1) if ord == "nuc" else vector_norm(S, inf if ord == 2 else -inf, dim=-1)
        out = out.reshape([1 if i in (d0, d1) else n for i, n in enumerate(A.shape)])
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    return out if keepdim else out.reshape([n for i, n in enumerate(out.shape) if i not in (d0, d1)])


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """torch.linalg.norm: a vector norm for one dim (or a 1-D input), a matrix norm for two."""
    if isinstance(dim, int) or (dim is not None and len(dim) == 1):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is not None:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: if dim is not given, input must be 1D or 2D when ord is given, "
                       f"but got shape {tuple(A.shape)}")


def norm(input, p="fro", dim=None, keepdim=False, dtype=None, out=None):
    """torch.norm / Tensor.norm: the 2-norm of all elements by default; `p` a number gives a
    vector norm over `dim` (all elements when None); 'nuc' a nuclear matrix norm."""
    if p == "nuc":
        return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(input, 2 if p == "fro" else p, dim, keepdim, dtype=dtype)


def cdist(x1, x2, p=2.0, compute_mode=None):
    """p-norm distances between the rows of x1 (.., P, M) and x2 (.., R, M): shape (.., P, R).
    Gradients are 0 at zero distance (as PyTorch's)."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist: only supports at least 2D tensors, got shapes {tuple(x1.shape)} "
                           f"and {tuple(x2.shape)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns, got shapes "
                           f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    if p < 0:
        raise RuntimeError(f"cdist: only supports non-negative p values, got {p}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return vector_norm(diff, p, dim=-1)


def _rmatmul(self, other):
    return Matmul.apply(other, self)


METHODS = {
    "matmul": matmul, "__matmul__": matmul, "__rmatmul__": _rmatmul, "mm": mm, "bmm": bmm,
    "mv": mv, "dot": dot, "vdot": vdot, "inner": inner, "outer": outer, "ger": ger,
    "addmm": addmm, "addmv": addmv, "addr": addr, "baddbmm": baddbmm, "addbmm": addbmm,
    "matrix_power": matrix_power, "kron": kron, "trace": trace, "cross": cross,
    "inverse": inverse, "det": det, "slogdet": slogdet, "logdet": logdet,
    "cholesky": cholesky, "cholesky_solve": cholesky_solve, "qr": qr, "svd": svd,
    "pinverse": pinverse, "norm": norm,
}

__all__ = [
    "matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv", "addr",
    "baddbmm", "addbmm", "chain_matmul", "matrix_power", "einsum", "tensordot", "kron", "trace",
    "cross", "inverse", "det", "slogdet", "logdet", "cholesky", "cholesky_solve", "qr", "svd",
    "pinverse", "norm", "cdist",
]
