import numpy as np
import pytest

from oracle import check, const, rand, torch

import diffprog as dp

# (diffprog fn, torch fn) pairs that are the same code on both: methods and functions.
SAME = [
    # reshaping
    ("reshape", lambda x: x.reshape(4, 3), (3, 4)),
    ("reshape_-1", lambda x: x.reshape(-1), (2, 3, 2)),
    ("reshape_tuple", lambda x: x.reshape((2, -1)), (3, 4)),
    ("reshape_0d", lambda x: x.reshape(1, 1), ()),
    ("reshape_empty", lambda x: x.reshape(3, 0), (0, 3)),
    ("reshape_noncontig", lambda x: x.t().reshape(-1), (3, 4)),
    ("view", lambda x: x.view(2, 6), (3, 4)),
    ("view_as", lambda x: x.view_as(x.reshape(6, 2)), (3, 4)),
    ("reshape_as", lambda x: x.t().reshape_as(x), (3, 4)),
    ("flatten", lambda x: x.flatten(), (2, 3, 4)),
    ("flatten_1_2", lambda x: x.flatten(1, 2), (2, 3, 4, 2)),
    ("flatten_0d", lambda x: x.flatten(), ()),
    ("unflatten", lambda x: x.unflatten(1, (2, -1)), (3, 4)),
    ("squeeze", lambda x: x.squeeze(), (1, 3, 1, 2)),
    ("squeeze_dim", lambda x: x.squeeze(2), (1, 3, 1, 2)),
    ("squeeze_noop", lambda x: x.squeeze(1), (1, 3, 1, 2)),
    ("squeeze_tuple", lambda x: x.squeeze((0, -2)), (1, 3, 1, 2)),
    ("unsqueeze", lambda x: x.unsqueeze(1), (3, 4)),
    ("unsqueeze_neg", lambda x: x.unsqueeze(-1), (3, 4)),
    ("unsqueeze_0d", lambda x: x.unsqueeze(0), ()),
    # dimension order
    ("permute", lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    ("permute_tuple", lambda x: x.permute((1, 0, 2)), (2, 3, 4)),
    ("transpose", lambda x: x.transpose(0, 2), (2, 3, 4)),
    ("swapaxes", lambda x: x.swapaxes(-1, 0), (2, 3)),
    ("swapdims", lambda x: x.swapdims(0, 1), (2, 3)),
    ("t", lambda x: x.t(), (2, 3)),
    ("t_1d", lambda x: x.t(), (3,)),
    ("T", lambda x: x.T, (2, 3)),
    ("mT", lambda x: x.mT, (4, 2, 3)),
    ("movedim", lambda x: x.movedim(0, -1), (2, 3, 4)),
    ("movedim_tuple", lambda x: x.movedim((0, 1), (2, 0)), (2, 3, 4)),
    ("moveaxis", lambda x: x.moveaxis(2, 0), (2, 3, 4)),
    # broadcasting and repetition
    ("expand", lambda x: x.expand(2, 3, 4), (3, 1)),
    ("expand_-1", lambda x: x.expand(-1, 4), (3, 1)),
    ("expand_0d", lambda x: x.expand(2, 2), ()),
    ("expand_as", lambda x: x.expand_as(x.new_zeros(2, 3, 4)), (1, 4)),
    ("broadcast_to", lambda x: x.broadcast_to((2, 3)), (3,)),
    ("repeat", lambda x: x.repeat(2, 3), (2, 3)),
    ("repeat_more_dims", lambda x: x.repeat(2, 1, 3), (2, 3)),
    ("repeat_0d", lambda x: x.repeat(3), ()),
    ("repeat_zero", lambda x: x.repeat(0, 2), (2, 3)),
    ("tile", lambda x: x.tile((2,)), (2, 3)),
    ("repeat_interleave", lambda x: x.repeat_interleave(2), (2, 3)),
    ("repeat_interleave_dim", lambda x: x.repeat_interleave(3, dim=1), (2, 3)),
    ("flip", lambda x: x.flip(0), (3, 4)),
    ("flip_dims", lambda x: x.flip((0, -1)), (2, 3, 4)),
    ("fliplr", lambda x: x.fliplr(), (3, 4)),
    ("flipud", lambda x: x.flipud(), (3, 4)),
    ("roll", lambda x: x.roll(1, 0), (3, 4)),
    ("roll_flat", lambda x: x.roll(5), (3, 4)),
    ("roll_multi", lambda x: x.roll((1, -2), (0, 1)), (3, 4)),
    # slicing and diagonals
    ("narrow", lambda x: x.narrow(1, 1, 2), (3, 4)),
    ("narrow_neg", lambda x: x.narrow(0, -2, 2), (3, 4)),
    ("select", lambda x: x.select(1, -1), (3, 4)),
    ("diagonal", lambda x: x.diagonal(), (3, 4)),
    ("diagonal_offset", lambda x: x.diagonal(1), (3, 4)),
    ("diagonal_neg", lambda x: x.diagonal(-1), (3, 4)),
    ("diagonal_dims", lambda x: x.diagonal(0, 2, 0), (3, 2, 4)),
    ("diagonal_past_end", lambda x: x.diagonal(5), (3, 4)),
    ("diag_embed", lambda x: x.diag_embed(), (2, 3)),
    ("diag_embed_offset", lambda x: x.diag_embed(1, 0, 2), (2, 3)),
    ("diag_embed_neg", lambda x: x.diag_embed(-2), (3,)),
    ("diag_1d", lambda x: x.diag(), (3,)),
    ("diag_1d_offset", lambda x: x.diag(-1), (3,)),
    ("diag_2d", lambda x: x.diag(), (3, 4)),
    ("diag_2d_offset", lambda x: x.diag(2), (3, 4)),
    ("tril", lambda x: x.tril(), (3, 4)),
    ("tril_k", lambda x: x.tril(-1), (2, 3, 4)),
    ("triu", lambda x: x.triu(), (4, 3)),
    ("triu_k", lambda x: x.triu(1), (3, 4)),
    # copies
    ("contiguous", lambda x: x.t().contiguous(), (3, 4)),
    ("clone", lambda x: x.clone(), (3, 4)),
    ("clone_0d", lambda x: x.clone(), ()),
    ("chunk", lambda x: x.chunk(2), (5, 2)),
    ("chunk_dim", lambda x: x.chunk(3, 1), (2, 7)),
    ("split_int", lambda x: x.split(2), (5, 3)),
    ("split_sizes", lambda x: x.split([1, 3], 1), (2, 4)),
    ("unbind", lambda x: x.unbind(1), (2, 3)),
    ("unbind_one", lambda x: x.unbind(), (1, 3)),
    ("tensor_split_n", lambda x: x.tensor_split(3), (7, 2)),
    ("tensor_split_idx", lambda x: x.tensor_split([1, 4], 1), (2, 6)),
    ("split_then_mix", lambda x: x.split(2)[0] * x.split(2)[1], (4, 3)),
]


@pytest.mark.parametrize("name,fn,shape", SAME, ids=[s[0] for s in SAME])
def test_method(name, fn, shape):
    check(fn, fn, rand(*shape))


@pytest.mark.parametrize("name,fn,shape", [s for s in SAME if s[0] in
                                           ("reshape", "permute", "expand", "repeat", "diagonal",
                                            "diag_embed", "tril", "flip", "roll", "chunk", "unbind")],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_method_float32(name, fn, shape):
    check(fn, fn, rand(*shape, dtype=np.float32))


FUNCS = [
    ("cat", lambda m: lambda a, b: m.cat([a, b]), [(2, 3), (4, 3)]),
    ("cat_dim", lambda m: lambda a, b: m.cat((a, b), dim=-1), [(2, 3), (2, 1)]),
    ("cat_three", lambda m: lambda a, b, c: m.cat([a, b, c], 1), [(2, 1, 2), (2, 3, 2), (2, 0, 2)]),
    ("concat", lambda m: lambda a, b: m.concat([a, b], 1), [(2, 3), (2, 2)]),
    ("stack", lambda m: lambda a, b: m.stack([a, b]), [(2, 3), (2, 3)]),
    ("stack_last", lambda m: lambda a, b: m.stack([a, b], -1), [(2, 3), (2, 3)]),
    ("stack_0d", lambda m: lambda a, b: m.stack([a, b]), [(), ()]),
    ("hstack", lambda m: lambda a, b: m.hstack([a, b]), [(2, 3), (2, 1)]),
    ("hstack_1d", lambda m: lambda a, b: m.hstack([a, b]), [(3,), (2,)]),
    ("vstack", lambda m: lambda a, b: m.vstack([a, b]), [(3,), (2, 3)]),
    ("diagonal_scatter", lambda m: lambda a, b: m.diagonal_scatter(a, b, 1), [(3, 4), (3,)]),
    ("atleast_2d", lambda m: lambda a: m.atleast_2d(a), [(3,)]),
    ("atleast_1d", lambda m: lambda a: m.atleast_1d(a), [()]),
]


@pytest.mark.parametrize("name,make,shapes", FUNCS, ids=[f[0] for f in FUNCS])
def test_function(name, make, shapes):
    check(make(dp), make(torch), *[rand(*s, seed=i) for i, s in enumerate(shapes)])


def test_cat_promotes_dtypes():
    check(lambda a, b: dp.cat([a, b]), lambda a, b: torch.cat([a, b]),
          rand(2, dtype=np.float32), rand(3))
    check(lambda a, b: dp.cat([a, b]), lambda a, b: torch.cat([a, b]),
          np.arange(3), rand(2))


def test_cat_skips_legacy_empty_1d():
    check(lambda a, b: dp.cat([a, b]), lambda a, b: torch.cat([a, b]), const(np.zeros(0)), rand(2, 3))


def test_repeat_interleave_tensor_repeats():
    r = np.array([1, 0, 3])
    check(lambda x, r: x.repeat_interleave(r, dim=0), lambda x, r: x.repeat_interleave(r, dim=0),
          rand(3, 2), r)
    assert dp.repeat_interleave(dp.tensor([2, 1])).tolist() == [0, 0, 1]


def test_views_share_storage_with_base():
    x = dp.zeros(3, 4)
    for v in (x.view(12), x.reshape(4, 3), x.t(), x.T, x.permute(1, 0), x[1], x.narrow(1, 1, 2),
              x.select(0, 2), x.diagonal(), x.unsqueeze(0), x.split(1)[1], x.unbind(1)[2],
              x.movedim(0, 1), x.flatten(), x.squeeze()):
        assert v._base is x, v
        v.add_(1)
    ref = torch.zeros(3, 4)
    for v in (ref.view(12), ref.reshape(4, 3), ref.t(), ref.T, ref.permute(1, 0), ref[1],
              ref.narrow(1, 1, 2), ref.select(0, 2), ref.diagonal(), ref.unsqueeze(0),
              ref.split(1)[1], ref.unbind(1)[2], ref.movedim(0, 1), ref.flatten(), ref.squeeze()):
        v.add_(1)
    np.testing.assert_array_equal(x.numpy(), ref.numpy())


def test_copies_do_not_alias():
    x = dp.zeros(2, 3)
    for c in (x.flip(0), x.roll(1), x.repeat(1, 1), x.clone(), x.t().contiguous(), x.diag(),
              x.tril(), x.t().reshape(-1), x.repeat_interleave(1)):
        c.add_(1)
    assert not x.numpy().any()


def test_view_errors():
    x = dp.zeros(2, 3)
    with pytest.raises(RuntimeError, match="Use .reshape"):
        x.t().view(6)
    with pytest.raises(RuntimeError, match=r"shape '\[4, 2\]' is invalid for input of size 6"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        x.view(-1, 4)
    with pytest.raises(RuntimeError, match="expanded size"):
        x.expand(3, 3)
    with pytest.raises(RuntimeError, match="number of dims"):
        x.permute(0)
    with pytest.raises(RuntimeError, match="t\\(\\) expects"):
        dp.zeros(1, 2, 3).t()
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.transpose(0, 2)
    with pytest.raises(RuntimeError, match="can not be smaller"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match="sum exactly to 3"):
        x.split([1, 1], 1)
    with pytest.raises(RuntimeError, match="exceeds dimension size"):
        x.narrow(1, 2, 2)
    with pytest.raises(IndexError, match="out of bounds"):
        x.select(0, 2)


def test_cat_errors_name_shapes():
    with pytest.raises(RuntimeError, match=r"\(2, 3\), \(3, 3\)"):
        dp.cat([dp.zeros(2, 3), dp.zeros(3, 3)], 1)
    with pytest.raises(RuntimeError, match=r"\(2, 3\), \(3,\)"):
        dp.cat([dp.zeros(2, 3), dp.zeros(3)])
    with pytest.raises(RuntimeError, match="non-empty"):
        dp.cat([])
    with pytest.raises(RuntimeError, match=r"\[2, 3\] at entry 0 and \[3, 2\] at entry 1"):
        dp.stack([dp.zeros(2, 3), dp.zeros(3, 2)])


def test_split_views_many_pieces_backward_is_linear():
    # unbind into many pieces must give one gradient, not one zero-filled tensor per piece
    x = dp.tensor(rand(50, 2), requires_grad=True)
    sum(r[0] * (i + 1) for i, r in enumerate(x.unbind())).backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], np.arange(1, 51))
    np.testing.assert_array_equal(x.grad.numpy()[:, 1], 0)


def test_type_as():
    x = dp.tensor([1.5, -2.0], requires_grad=True)
    y = x.type_as(dp.zeros(1, dtype=dp.float32))
    assert y.dtype == dp.float32 and y.requires_grad
    assert x.type_as(dp.zeros(1, dtype=dp.int64)).tolist() == [1, -2]


def test_new_constructors():
    x = dp.zeros(2, dtype=dp.float64)
    for y, shape in ((x.new_zeros(2, 3), (2, 3)), (x.new_ones((3,)), (3,)), (x.new_empty(1), (1,)),
                     (x.new_full((2,), 7), (2,)), (x.new_tensor([1, 2]), (2,))):
        assert y.dtype == dp.float64 and tuple(y.shape) == shape
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert x.new_zeros(2, dtype=dp.int64).dtype == dp.int64


# --- property-based: broadcasting of a binary op ------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@settings(max_examples=50, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       st.integers(0, 1000))
def test_property_broadcasting(shapes, seed):
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    a, b = rand(*sa, seed=seed), rand(*sb, seed=seed + 1)
    cot = np.random.default_rng(seed).standard_normal(result)
    grads = []
    for lib in (dp, torch):
        ta, tb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = ta * tb - ta
        (out * lib.tensor(cot)).sum().backward()
        grads.append((out.detach().numpy(), ta.grad.numpy(), tb.grad.numpy()))
    (out, ga, gb), (_, tga, tgb) = grads
    assert out.shape == result
    np.testing.assert_allclose(out, a * b - a, rtol=1e-12)
    assert ga.shape == sa and gb.shape == sb
    np.testing.assert_allclose(ga, tga, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, tgb, rtol=1e-10, atol=1e-12)
