"""Recurrent dropout: LockedDropout's one mask per sequence, WeightDrop's DropConnect on a
wrapped LSTM's recurrent weights (forward and gradients against torch's LSTM run with the
dropped weights)."""
import numpy as np
import pytest

import diffprog as dp
from diffprog import nn
from oracle import torch


def test_locked_dropout_shares_one_mask_over_time():
    dp.manual_seed(0)
    drop = nn.LockedDropout(0.3)
    x = dp.ones(50, 64, 20, requires_grad=True)
    y = drop(x)
    mask = y.detach().numpy()
    assert (mask == mask[:1]).all()                               # the same at every step
    np.testing.assert_allclose(np.unique(mask), [0.0, 1 / 0.7], rtol=1e-6)
    assert 0.25 < (mask[0] == 0).mean() < 0.35                    # but random over batch x features
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), mask)
    bf = nn.LockedDropout(0.5, batch_first=True)(dp.ones(4, 30, 8)).numpy()
    assert (bf == bf[:, :1]).all() and not (bf == bf[:1]).all()
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError, match="LockedDropout: expected a \\(seq, batch, features\\)"):
        nn.LockedDropout(0.5)(dp.ones(3, 4))


def test_weight_drop_is_an_lstm_with_dropped_recurrent_weights():
    """Forward and every gradient equal torch's LSTM run with the dropped matrix; the raw
    weight's gradient is the dropped one's times the mask."""
    dp.manual_seed(0)
    lstm = nn.LSTM(3, 5, batch_first=True).double()
    wd = nn.WeightDrop(lstm, ["weight_hh_l0"], dropout=0.4)
    assert sorted(n for n, _ in wd.named_parameters()) == [
        "module.bias_hh_l0", "module.bias_ih_l0", "module.weight_hh_l0_raw", "module.weight_ih_l0"]
    x = dp.randn(2, 7, 3, dtype=dp.float64, requires_grad=True)
    out, (h, c) = wd(x)
    dropped = lstm.weight_hh_l0.detach().numpy()
    raw = lstm.weight_hh_l0_raw.detach().numpy()
    mask = dropped / np.where(raw == 0, 1, raw)
    assert set(np.round(np.unique(mask), 12)) == {0.0, round(1 / 0.6, 12)}
    cot = np.random.default_rng(0).standard_normal(out.shape)
    (out * dp.tensor(cot)).sum().backward()

    ref = torch.nn.LSTM(3, 5, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.tensor(lstm.weight_ih_l0.detach().numpy()))
        ref.weight_hh_l0.copy_(torch.tensor(dropped))
        ref.bias_ih_l0.copy_(torch.tensor(lstm.bias_ih_l0.detach().numpy()))
        ref.bias_hh_l0.copy_(torch.tensor(lstm.bias_hh_l0.detach().numpy()))
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    tout, _ = ref(tx)
    (tout * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lstm.weight_hh_l0_raw.grad.numpy(), ref.weight_hh_l0.grad.numpy() * mask,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lstm.weight_ih_l0.grad.numpy(), ref.weight_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_weight_drop_resamples_each_call_and_is_off_in_eval():
    dp.manual_seed(1)
    wd = nn.WeightDrop(nn.GRU(4, 6), ["weight_hh_l0"], dropout=0.5)
    x = dp.randn(5, 2, 4)
    a, _ = wd(x)
    m1 = (wd.module.weight_hh_l0 == 0).numpy()
    b, _ = wd(x)
    m2 = (wd.module.weight_hh_l0 == 0).numpy()
    assert (m1 != m2).any() and not np.allclose(a.detach().numpy(), b.detach().numpy())
    wd.eval()
    e1, _ = wd(x)
    plain = nn.GRU(4, 6)
    plain.load_state_dict({k.replace("_raw", ""): v for k, v in wd.module.state_dict().items()})
    np.testing.assert_array_equal(e1.detach().numpy(), plain(x)[0].detach().numpy())
    rows = nn.WeightDrop(nn.RNN(4, 6), ["weight_hh_l0"], dropout=0.5, variational=True)
    rows(x)
    w = rows.module.weight_hh_l0.detach().numpy()
    assert ((w == 0).all(1) | (w != 0).all(1)).all()              # whole rows dropped
    with pytest.raises(ValueError, match="WeightDrop: LSTM has no parameter 'weight_hh_l1'"):
        nn.WeightDrop(nn.LSTM(2, 3), ["weight_hh_l1"])
