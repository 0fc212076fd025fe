"""diffprog.train.callbacks: hooks, decorators, checkpoints, early stopping, clipping,
schedulers, CSV logging, plotting and progress output."""
import csv
import io
import math
import os
import sys

import numpy as np
import pytest

import diffprog
import diffprog.nn as nn
import diffprog.train as tb
from diffprog.train import Trial
import diffprog.train.callbacks as callbacks
from diffprog.train.callbacks import decorators


def data(n=16, seed=0):
    diffprog.manual_seed(seed)
    x = diffprog.randn(n, 3)
    return x, (x[:, 0] > 0).long()


def trial(cbs=(), lr=0.1, metrics=("loss", "acc"), n=16, batch_size=8, val=True, seed=1,
          opt=diffprog.optim.SGD):
    diffprog.manual_seed(seed)
    model = nn.Linear(3, 2)
    t = Trial(model, opt(model.parameters(), lr=lr), nn.CrossEntropyLoss(), metrics=list(metrics),
              callbacks=list(cbs), verbose=0)
    x, y = data(n)
    t.with_train_data(x, y, batch_size=batch_size, shuffle=False)
    return t.with_val_data(x, y, batch_size=n, shuffle=False) if val else t


class Recorder(callbacks.Callback):
    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda state: self.calls.append(name)
        return super().__getattribute__(name)


def test_hook_order():
    rec = Recorder()
    trial([rec], n=4, batch_size=2).run(1)
    batch = ["on_sample", "on_forward", "on_criterion", "on_backward", "on_step_training"]
    val = ["on_sample_validation", "on_forward_validation", "on_criterion_validation", "on_step_validation"]
    assert rec.calls == (["on_init", "on_start", "on_start_epoch", "on_start_training"] + batch * 2
                         + ["on_end_training", "on_start_validation"] + val
                         + ["on_end_validation", "on_end_epoch", "on_checkpoint", "on_end"])
    rec.calls.clear()
    t = trial([rec], n=4, batch_size=2)
    rec.calls.clear()
    t.evaluate()
    assert rec.calls == ["on_start", "on_start_epoch", "on_start_validation"] + val + \
        ["on_end_validation", "on_end_epoch", "on_end"]


def test_hook_decorators_see_the_right_state():
    seen = []

    @decorators.on_start_epoch
    @decorators.on_end_epoch
    def epochs(state):
        seen.append(("epoch", state[tb.EPOCH], sorted(state[tb.METRICS]) if tb.METRICS in state else None))

    @decorators.on_step_training
    def steps(state):
        seen.append(("step", state[tb.BATCH], round(state[tb.METRICS]["running_loss"], 6) > 0,
                     state[tb.LOSS].requires_grad))

    @decorators.on_forward_validation
    def val_forward(state):
        seen.append(("val", tuple(state[tb.Y_PRED].shape), state[tb.Y_PRED].requires_grad))

    @decorators.on_criterion
    def crit(state):
        seen.append(("crit", state[tb.LOSS].ndim, tuple(state[tb.X].shape), tuple(state[tb.Y_TRUE].shape)))

    trial([epochs, steps, val_forward, crit], metrics=["loss"]).run(2)
    assert seen[:6] == [("epoch", 0, None), ("crit", 0, (8, 3), (8,)), ("step", 0, True, True),
                        ("crit", 0, (8, 3), (8,)), ("step", 1, True, True), ("val", (16, 2), False)]
    assert seen[6] == ("epoch", 0, ["loss", "running_loss", "val_loss"])
    assert seen[7][:2] == ("epoch", 1) and len(seen) == 14
    assert str(epochs) == "LambdaCallback(epochs)"
    with pytest.raises(ValueError, match="not a callback hook"):
        decorators.bind_to("on_lunch")


def test_only_if_once_once_per_epoch():
    fired = []

    @decorators.only_if(lambda state: state[tb.BATCH] == 1)
    @decorators.on_step_training
    def second_batch(state):
        fired.append(("second", state[tb.EPOCH]))

    @decorators.once
    @decorators.on_step_training
    def first_ever(state):
        fired.append(("once", state[tb.EPOCH], state[tb.BATCH]))

    @decorators.on_step_training
    @decorators.once_per_epoch
    def each_epoch(state):
        fired.append(("epoch", state[tb.EPOCH], state[tb.BATCH]))

    class Method(callbacks.Callback):
        @decorators.once_per_epoch
        def on_step_training(self, state):
            fired.append(("method", state[tb.EPOCH]))

    trial([second_batch, first_ever, each_epoch, Method(), Method()], n=24).run(2)
    assert fired == [("once", 0, 0), ("epoch", 0, 0), ("method", 0), ("method", 0), ("second", 0),
                     ("epoch", 1, 0), ("method", 1), ("method", 1), ("second", 1)]


def test_add_to_loss():
    @decorators.add_to_loss
    def extra(state):
        return diffprog.tensor(10.0)

    plain = trial([], lr=0.0).run(1)[0]
    more = trial([extra], lr=0.0).run(1)[0]
    assert more["loss"] == pytest.approx(plain["loss"] + 10)
    assert more["val_loss"] == pytest.approx(plain["val_loss"] + 10)


def test_checkpoint_interval_best_most_recent(tmp_path):
    interval = callbacks.ModelCheckpoint(str(tmp_path / "i.{epoch:02d}-{val_loss:.3f}.pt"))
    best = callbacks.ModelCheckpoint(str(tmp_path / "best.{epoch}.pt"), monitor="val_acc", save_best_only=True)
    recent = callbacks.MostRecent(str(tmp_path / "sub" / "recent.{epoch}.pt"), save_model_params_only=True)
    period = callbacks.Interval(str(tmp_path / "p.{epoch}.pt"), period=2)
    assert isinstance(interval, callbacks.Interval) and isinstance(best, callbacks.Best)
    t = trial([interval, best, recent, period], lr=0.5)
    history = t.run(4)
    names = sorted(os.listdir(tmp_path))
    assert [n for n in names if n.startswith("i.")] == [f"i.{e:02d}-{h['val_loss']:.3f}.pt"
                                                        for e, h in enumerate(history)]
    accs = [h["val_acc"] for h in history]
    best_epoch = max(range(4), key=lambda e: (accs[e], -e))
    assert [n for n in names if n.startswith("best")] == [f"best.{best_epoch}.pt"]
    assert os.listdir(tmp_path / "sub") == ["recent.3.pt"]
    assert [n for n in names if n.startswith("p.")] == ["p.1.pt", "p.3.pt"]
    assert not [n for n in names if n.endswith(".tmp")]
    # a full checkpoint resumes the trial, a params-only one loads into a model
    saved = diffprog.load(tmp_path / "i.01-{:.3f}.pt".format(history[1]["val_loss"]))
    with pytest.warns(UserWarning, match="differ"):
        resumed = trial([callbacks.ModelCheckpoint(str(tmp_path / "r.{epoch}.pt"))]).load_state_dict(saved)
    assert resumed.state[tb.HISTORY] == history[:2]
    model = nn.Linear(3, 2)
    model.load_state_dict(diffprog.load(tmp_path / "sub" / "recent.3.pt"))
    np.testing.assert_array_equal(model.weight.detach().numpy(), t.state[tb.MODEL].weight.detach().numpy())
    with pytest.raises(KeyError, match="'nope'"):
        trial([callbacks.MostRecent(str(tmp_path / "{nope}.pt"))]).run(1)


def test_failed_checkpoint_keeps_the_last_good_file(tmp_path, monkeypatch):
    from diffprog.io import safetensors_format
    path = tmp_path / "model.pt"
    t = trial([callbacks.MostRecent(str(path))])
    t.run(1)
    good = path.read_bytes()
    real_write = safetensors_format.write

    def failing_write(out, arrays, metadata):
        out.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors_format, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        t.run(2)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["model.pt"]
    monkeypatch.setattr(safetensors_format, "write", real_write)
    assert diffprog.load(path)["history"] == t.state[tb.HISTORY][:1]


def test_early_stopping():
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2)
    history = trial([stop], lr=0.0).run(10)      # no learning: no improvement after epoch 0
    assert len(history) == 3 and stop.wait == 2
    history = trial([callbacks.EarlyStopping(monitor="val_acc", patience=1, min_delta=0.5)], lr=0.5).run(10)
    assert len(history) == 2                     # accuracy never improves by 0.5
    history = trial([callbacks.EarlyStopping(monitor="val_loss", patience=2)], lr=0.5).run(6)
    assert len(history) == 6                     # keeps improving
    with pytest.raises(ValueError, match="mode"):
        callbacks.EarlyStopping(mode="up")


def test_terminate_on_nan():
    batches = []

    @decorators.on_sample
    def poison(state):
        batches.append(state[tb.BATCH])
        if state[tb.BATCH] == 2:
            state[tb.X] = state[tb.X] * math.nan

    t = trial([poison, callbacks.TerminateOnNaN(monitor="running_loss")], n=96)
    assert t.run(3) == [] and batches == list(range(11))    # the running mean refreshes at step 10
    batches.clear()
    # 'loss' exists at the end of the pass only: the epoch completes, then training stops
    history = trial([poison, callbacks.TerminateOnNaN(monitor="loss")], n=80).run(3)
    assert len(history) == 1 and math.isnan(history[0]["loss"]) and batches == list(range(10))


def grads_after_clipping(clipper):
    grads = []
    record = decorators.on_backward(
        lambda s: grads.append([p.grad.numpy().copy() for p in s[tb.MODEL].parameters()]))
    trial([clipper, record] if clipper else [record], n=8, val=False).run(1)
    return grads[0]


def test_gradient_clipping():
    raw = grads_after_clipping(None)
    assert max(np.abs(g).max() for g in raw) > 0.05
    clipped = grads_after_clipping(callbacks.GradientClipping(0.05))
    for g, r in zip(clipped, raw):
        np.testing.assert_allclose(g, np.clip(r, -0.05, 0.05), rtol=1e-6)
    norm = math.sqrt(sum((g ** 2).sum() for g in raw))
    normed = grads_after_clipping(callbacks.GradientNormClipping(norm / 4))
    for g, r in zip(normed, raw):
        np.testing.assert_allclose(g, r / 4, rtol=1e-4)


def lrs(cbs, epochs=3, **kw):
    return [round(h["lr"], 10) for h in trial(cbs, metrics=["lr"], **kw).run(epochs)]


def test_schedulers_per_epoch_and_per_batch():
    assert lrs([callbacks.StepLR(1, gamma=0.5)]) == [0.1, 0.05, 0.025]
    assert lrs([callbacks.MultiStepLR([2], gamma=0.1)]) == [0.1, 0.1, 0.01]
    # 2 steps an epoch; 'lr' reports the rate at the end of the training pass
    assert lrs([callbacks.ExponentialLR(0.5, step_on_batch=True)]) == [0.025, 0.00625, 0.0015625]
    assert lrs([callbacks.LambdaLR(lambda e: 1 / (e + 1))]) == [0.1, 0.05, round(0.1 / 3, 10)]
    cos = lrs([callbacks.CosineAnnealingLR(T_max=2)])
    assert cos == pytest.approx([0.1, 0.05, 0.0])
    used = []
    record = decorators.on_sample(lambda s: used.append(s[tb.OPTIMIZER].param_groups[0]["lr"]))
    trial([callbacks.OneCycleLR(max_lr=1.0, total_steps=6), record]).run(3)
    torch = pytest.importorskip("torch")
    ref = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(ref, max_lr=1.0, total_steps=6)
    expected = []
    for _ in range(6):
        expected.append(ref.param_groups[0]["lr"])
        ref.step()
        sched.step()
    assert used == pytest.approx(expected)
    # plateau, on a metric set by a callback that runs first: 3, 2, 2, 2 stalls at epoch 2
    fake = decorators.on_end_epoch(lambda s: s[tb.METRICS].update(fake=[3, 2, 2, 2][s[tb.EPOCH]]))
    plateau = callbacks.ReduceLROnPlateau(monitor="fake", patience=0, factor=0.5)
    assert lrs([fake, plateau], epochs=4) == [0.1, 0.1, 0.1, 0.05]
    with pytest.raises(KeyError, match="'running_loss' is not among the metrics"):
        lrs([callbacks.ReduceLROnPlateau(monitor="running_loss", step_on_batch=True)])


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    history = trial([callbacks.CSVLogger(path)]).run(2)
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "running_loss", "running_acc", "loss", "acc", "val_loss", "val_acc"]
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert [float(r["val_loss"]) for r in rows] == [h["val_loss"] for h in history]
    # resuming with append adds rows under the same header
    t = trial([callbacks.CSVLogger(path, append=True)])
    t.load_state_dict(diffprog.load(_saved(tmp_path, history)))
    t.run(3)
    text = path.read_text()
    assert text.count("epoch") == 1 and len(text.splitlines()) == 4
    batches = tmp_path / "batches.csv"
    trial([callbacks.CSVLogger(batches, separator=";", batch_granularity=True)]).run(2)
    lines = batches.read_text().splitlines()
    assert lines[0].startswith("epoch;batch;running_loss") and len(lines) == 1 + 2 * (2 + 1)


def _saved(tmp_path, history):
    t = trial([callbacks.CSVLogger(tmp_path / "scratch.csv")])
    t.run(len(history))
    diffprog.save(t.state_dict(), tmp_path / "t.pt")
    return tmp_path / "t.pt"


def test_live_loss_plot(tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    plot = callbacks.LiveLossPlot(path)
    t = trial([plot])
    t.run(1)
    first = path.read_bytes()
    assert first.startswith(b"\x89PNG\r\n\x1a\n") and len(first) > 2000
    t.run(3)
    assert path.read_bytes() != first and os.listdir(tmp_path) == ["curves.png"]
    assert set(plot._panels(t.state[tb.HISTORY])) == {"loss", "acc"}
    assert plot._panels(t.state[tb.HISTORY])["acc"].keys() == {"training", "validation"}
    replayed = tmp_path / "replay.png"
    t.replay([callbacks.LiveLossPlot(replayed)], verbose=0)
    assert replayed.read_bytes().startswith(b"\x89PNG")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="needs matplotlib"):
        callbacks.LiveLossPlot(path)


def test_tqdm_and_console_printer(capsys, monkeypatch):
    out = io.StringIO()
    trial([callbacks.Tqdm(file=out)]).run(2)
    text = out.getvalue()
    for part in ("0/2(t)", "1/2(v)", "2/2", "running_loss=", "val_acc="):
        assert part in text
    out = io.StringIO()
    trial([callbacks.Tqdm(file=out, on_epoch=True)]).run(3)
    assert "3/3" in out.getvalue() and "(t)" not in out.getvalue()
    trial([callbacks.ConsolePrinter()], metrics=["loss"]).run(1)
    printed = capsys.readouterr().out
    assert "0/1(t): loss=" in printed and "0/1(v): val_loss=" in printed
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError, match="tqdm"):
        callbacks.Tqdm()
    trial().run(1, verbose=2)       # the default printer falls back to printed lines
    assert "0/1(t):" in capsys.readouterr().out


def test_callback_list_state_round_trip():
    stop = callbacks.EarlyStopping(patience=5)
    stop.best, stop.wait = 0.25, 3
    lst = callbacks.CallbackList([callbacks.CallbackList([stop]), callbacks.TerminateOnNaN()])
    assert len(lst) == 2
    sd = lst.state_dict()
    other = callbacks.EarlyStopping(patience=5)
    with pytest.warns(UserWarning, match="differ"):
        callbacks.CallbackList([callbacks.TerminateOnNaN(), other]).load_state_dict(sd)
    assert (other.best, other.wait) == (0.25, 3)
    with pytest.raises(TypeError, match="Callback instances"):
        callbacks.CallbackList([lambda state: None])
