"""diffprog.train: the Trial loop, state keys, metrics, saving and resuming."""
import math
import warnings

import numpy as np
import pytest

import diffprog
import diffprog.nn as nn
import diffprog.train as tb
from diffprog.train import Trial, metrics
import diffprog.train.callbacks as callbacks


def blobs(n=96, seed=0):
    """Two separable classes in 4-d."""
    diffprog.manual_seed(seed)
    x = diffprog.randn(n, 4)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def mlp(seed=1, dropout=0.0):
    diffprog.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))


def params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_torchbearer_style_imports():
    from diffprog.train import Trial as T
    from diffprog.train.callbacks import decorators
    import diffprog.train.metrics as m
    assert decorators.on_step_training is callbacks.on_step_training
    assert diffprog.train is tb and m is metrics
    assert isinstance(tb.EPOCH, tb.StateKey) and tb.Callback is callbacks.Callback and T is Trial


def test_state_keys_behave_like_their_names():
    assert tb.MODEL == "model" and hash(tb.MODEL) == hash("model") and str(tb.EPOCH) == "epoch"
    state = tb.State({tb.MODEL: 1})
    assert state["model"] == 1 and tb.MODEL in {"model": 0}
    fresh = tb.state_key("model")
    assert str(fresh) == "model_" and fresh != tb.MODEL
    assert tb.state_key("my_key") != tb.state_key("my_key")
    # a key is a metric reporting its value
    assert tb.EPOCH.process({tb.EPOCH: 3}) == {"epoch": 3}


def test_training_learns_and_history_has_torchbearer_keys():
    x, y = blobs()
    model = mlp()
    trial = Trial(model, diffprog.optim.Adam(model.parameters(), lr=0.03), nn.CrossEntropyLoss(),
                  metrics=["loss", "accuracy"], verbose=0)
    history = trial.with_train_data(x, y, batch_size=16).with_val_data(x, y, batch_size=32).run(4)
    assert len(history) == 4
    assert list(history[0]) == ["running_loss", "running_acc", "loss", "acc", "val_loss", "val_acc",
                                "train_steps", "validation_steps"]
    assert history[0]["train_steps"] == 6 and history[0]["validation_steps"] == 3
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    assert history[-1]["val_acc"] > 0.9 and history[-1]["acc"] > history[0]["acc"]
    assert all(isinstance(v, float) for v in history[-1].values() if not isinstance(v, int))
    # run(epochs) counts from the history: a second call continues, it doesn't restart
    assert trial.run(5) is history and len(history) == 5
    assert trial.run(5) is history and len(history) == 5


def test_epoch_metrics_are_exact_means():
    """'loss' averages the batch losses, 'acc' the samples (uneven last batch), val_ too."""
    x, y = blobs(50)
    model = mlp()
    crit = nn.CrossEntropyLoss()
    trial = Trial(model, None, crit, metrics=["loss", "acc"], verbose=0)  # no optimizer: no updates
    trial.with_train_data(x, y, batch_size=16, shuffle=False).with_val_data(x, y, batch_size=20, shuffle=False)
    rec = trial.run(1)[0]
    with diffprog.no_grad():
        model.eval()
        losses = [crit(model(x[i:i + 16]), y[i:i + 16]).item() for i in range(0, 50, 16)]
        out = model(x)
    acc = (out.argmax(1) == y).float().mean().item()
    assert rec["loss"] == pytest.approx(np.mean(losses), rel=1e-6)
    assert rec["running_loss"] == pytest.approx(losses[0], rel=1e-6)    # refreshed every 10 steps
    assert rec["acc"] == pytest.approx(acc) and rec["val_acc"] == pytest.approx(acc)
    assert rec["val_loss"] == pytest.approx(np.mean([crit(out[i:i + 20], y[i:i + 20]).item()
                                                     for i in (0, 20, 40)]), rel=1e-6)


def test_evaluate_and_predict_run_in_eval_mode_without_grad():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 2)

        def forward(self, x):
            seen.append((self.training, diffprog.is_grad_enabled()))
            return self.lin(x)

    x, y = blobs(20)
    model = Probe()
    trial = Trial(model, diffprog.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                  metrics=["loss", "acc"], verbose=0)
    trial.with_train_data(x, y, batch_size=10).with_val_data(x, y, batch_size=10)
    trial.with_test_data(x, batch_size=8)
    trial.run(1)
    assert seen == [(True, True)] * 2 + [(False, False)] * 2 and model.training
    seen.clear()
    result = trial.evaluate()
    assert set(result) == {"val_loss", "val_acc"} and seen == [(False, False)] * 2
    assert trial.state[tb.HISTORY][-1]["val_loss"] == result["val_loss"]
    assert set(trial.evaluate(data_key=tb.TRAIN_DATA)) == {"train_loss", "train_acc"}
    seen.clear()
    pred = trial.predict()
    assert seen == [(False, False)] * 3 and model.training      # 20 samples in batches of 8
    with diffprog.no_grad():
        np.testing.assert_allclose(pred.numpy(), model(x).numpy(), rtol=1e-6)
    assert not pred.requires_grad and tuple(pred.shape) == (20, 2)
    with pytest.warns(UserWarning, match="no test_data"):
        assert Trial(model, verbose=0).predict() == []


class TwoInTwoOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 2), nn.Linear(3, 1)

    def forward(self, u, v):
        return self.a(u), self.b(v).squeeze(1)


def test_multiple_inputs_and_outputs():
    x, y = blobs(30)
    v = diffprog.randn(30, 3)
    target = v.sum(1)
    calls = []

    def criterion(y_pred, y_true):
        calls.append((len(y_pred), len(y_true)))
        F = nn.functional
        return F.cross_entropy(y_pred[0], y_true[0]) + F.mse_loss(y_pred[1], y_true[1])

    model = TwoInTwoOut()
    trial = Trial(model, diffprog.optim.Adam(model.parameters(), lr=0.05), criterion, verbose=0)
    trial.with_train_data((x, v), (y, target), batch_size=10)
    trial.with_val_data((x, v), (y, target), batch_size=30)
    history = trial.run(5)
    assert calls[0] == (2, 2) and history[-1]["loss"] < history[0]["loss"]
    trial.with_test_data((x, v), batch_size=7)
    a, b = trial.predict()
    assert tuple(a.shape) == (30, 2) and tuple(b.shape) == (30,)


def test_criterion_of_state_and_stepping_without_data():
    """No data, only steps (differentiable programming): fit a parameter to a target."""
    target = diffprog.tensor([1.0, -2.0])

    class Point(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(diffprog.zeros(2))

        def forward(self, x):
            assert x is None
            return self.p

    model = Point()
    trial = Trial(model, diffprog.optim.SGD(model.parameters(), lr=0.1),
                  lambda state: ((state[tb.Y_PRED] - target) ** 2).sum(), verbose=0)
    history = trial.for_train_steps(20).run(2)
    np.testing.assert_allclose(model.p.detach().numpy(), target.numpy(), atol=1e-3)
    assert history[1]["loss"] < 1e-3 < history[0]["loss"]


def test_models_with_a_state_parameter_get_the_state():
    seen = []

    class StateModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 2)

        def forward(self, x, state=None):
            seen.append(state[tb.BATCH])
            return self.lin(x)

    x, y = blobs(8)
    Trial(StateModel(), criterion=nn.CrossEntropyLoss(), verbose=0).with_train_data(x, y, batch_size=4).run(1)
    assert seen == [0, 1]
    seen.clear()
    plain = mlp()
    calls = []
    Trial(lambda x, **kw: calls.append(kw["state"][tb.EPOCH]) or plain(x), criterion=nn.CrossEntropyLoss(),
          verbose=0, pass_state=True).with_train_data(x, y, batch_size=8).run(1)
    assert calls == [0]


def test_default_criterion_and_no_model_run_the_steps():
    steps = []
    with pytest.warns(UserWarning, match="not callable"):
        Trial(None, callbacks=[callbacks.on_step_training(lambda s: steps.append(s[tb.BATCH]))],
              verbose=0).for_steps(3).run(2)
    assert steps == [0, 1, 2] * 2


def test_steps_beyond_the_loader_start_it_over_and_inf_loading_continues():
    x, y = blobs(8)
    seen = []
    record = callbacks.on_sample(lambda s: seen.append(s[tb.X][:, 0].tolist()))
    trial = Trial(mlp(), metrics=[], callbacks=[record], verbose=0)
    trial.with_train_data(x, y, batch_size=4, shuffle=False, steps=3).run(1)
    first, second = x[:4, 0].tolist(), x[4:, 0].tolist()
    assert seen == [first, second, first]
    seen.clear()
    trial = Trial(mlp(), metrics=[], callbacks=[record], verbose=0)
    trial.with_train_data(x, y, batch_size=4, shuffle=False, steps=1).with_inf_train_loader().run(3)
    assert seen == [first, second, first]


def make_trial(x, y, seed):
    model = mlp(seed, dropout=0.3)      # dropout draws from the global generator
    opt = diffprog.optim.Adam(model.parameters(), lr=0.02)
    trial = Trial(model, opt, nn.CrossEntropyLoss(), metrics=["loss", "acc", "lr"], verbose=0,
                  callbacks=[callbacks.LambdaLR(lambda e: 0.7 ** e), callbacks.EarlyStopping(patience=50),
                             callbacks.MultiStepLR([1, 3], gamma=0.5)])
    return trial.with_train_data(x, y, batch_size=16).with_val_data(x, y, batch_size=48)


def test_resume_is_exact(tmp_path):
    """4 epochs == 2 epochs, save, load into a fresh trial, 2 more (shuffling, dropout,
    Adam's moments and the schedulers' state included)."""
    x, y = blobs()
    whole = make_trial(x, y, seed=1)
    history = whole.run(4)
    first = make_trial(x, y, seed=1)
    first.run(2)
    diffprog.save(first.state_dict(), tmp_path / "trial.pt")
    diffprog.manual_seed(99)          # other random draws in between don't matter
    resumed = make_trial(x, y, seed=7)
    resumed.load_state_dict(diffprog.load(tmp_path / "trial.pt"))
    assert len(resumed.state[tb.HISTORY]) == 2
    assert resumed.run(4) == history
    for a, b in zip(params(whole.state[tb.MODEL]), params(resumed.state[tb.MODEL])):
        np.testing.assert_array_equal(a, b)
    # LambdaLR sets 0.02 * 0.7 ** epoch, then MultiStepLR halves it at epochs 1 and 3
    assert [h["lr"] for h in history] == pytest.approx([0.02, 0.02 * 0.7 / 2, 0.02 * 0.49, 0.02 * 0.343 / 2])
    # without resume only the model is loaded
    fresh = make_trial(x, y, seed=7).load_state_dict(first.state_dict(), resume=False)
    assert fresh.state[tb.HISTORY] == []
    for a, b in zip(params(first.state[tb.MODEL]), params(fresh.state[tb.MODEL])):
        np.testing.assert_array_equal(a, b)


def test_state_dict_layout_and_plain_model_state_dicts():
    x, y = blobs(16)
    trial = make_trial(x, y, seed=1)
    trial.run(1)
    sd = trial.state_dict()
    assert set(sd) == {"version", "model", "optimizer", "history", "callback_list", "rng_state"}
    assert sd[tb.MODEL].keys() == trial.state[tb.MODEL].state_dict().keys()
    assert sd[tb.CALLBACK_LIST]["callback_types"] == ["LambdaLR", "EarlyStopping", "MultiStepLR"]
    other = make_trial(x, y, seed=5)
    with pytest.warns(UserWarning, match="not a Trial state dict"):
        other.load_state_dict(trial.state[tb.MODEL].state_dict())
    for a, b in zip(params(trial.state[tb.MODEL]), params(other.state[tb.MODEL])):
        np.testing.assert_array_equal(a, b)


def test_to_sets_the_batch_dtype_and_cuda_fails_clearly():
    x, y = blobs(8)
    model = mlp()
    dtypes = []
    record = callbacks.on_forward(lambda s: dtypes.append((s[tb.X].dtype, s[tb.Y_PRED].dtype)))
    trial = Trial(model, diffprog.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), verbose=0,
                  callbacks=[record])
    trial.with_train_data(x, y, batch_size=8).to(diffprog.float64).run(1)
    assert dtypes == [(diffprog.float64, diffprog.float64)]
    assert trial.state[tb.DATA_TYPE] is diffprog.float64 and model[0].weight.dtype is diffprog.float64
    with pytest.raises(RuntimeError, match="not available"):
        trial.cuda()
    assert trial.cpu() is trial


def test_verbose_levels(capsys):
    x, y = blobs(8)
    Trial(mlp(), metrics=["loss"], verbose=0).with_train_data(x, y, batch_size=4).run(1)
    assert capsys.readouterr().err == ""
    Trial(mlp(), metrics=["loss"]).with_train_data(x, y, batch_size=4).run(1)
    err = capsys.readouterr().err
    assert "0/1(t)" in err and "2/2" in err and "running_loss=" in err
    Trial(mlp(), metrics=["loss"], verbose=2).with_train_data(x, y, batch_size=4).run(2, verbose=1)
    assert "2/2" in capsys.readouterr().err


def test_metric_names_and_defaults():
    assert isinstance(metrics.get_default("acc"), metrics.DefaultAccuracy)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        Trial(None, metrics=["nope"])

    def state(pred, true, criterion=None):
        return tb.State({tb.Y_PRED: diffprog.tensor(pred), tb.Y_TRUE: diffprog.tensor(true),
                         tb.CRITERION: criterion})

    top2 = metrics.MetricList(["top_5_acc", metrics.TopKCategoricalAccuracy(k=2)])
    s = state([[0.1, 0.5, 0.2, 0.0, 0.3, 0.9], [0.9, 0.1, 0.2, 0.3, 0.4, 0.5]], [4, 1])
    top2.reset(s)
    assert top2.process(s) == {"running_top_5_acc": 0.5, "running_top_2_acc": 0.0}
    assert top2.process_final(s) == {"top_5_acc": 0.5, "top_2_acc": 0.0}

    acc = metrics.MetricList(["acc"])
    s = state([0.9, 0.2, 0.7, 0.4], [1.0, 0.0, 0.0, 0.0], nn.BCELoss())
    acc.reset(s)
    acc.process(s)
    assert acc.process_final(s) == {"binary_acc": 0.75}
    acc.eval()
    acc.reset(s)
    assert acc.process(s) == {} and acc.process_final(s) == {"val_binary_acc": 0.75}

    acc = metrics.MetricList(["acc"])
    s = state([1.0, 3.0], [2.0, 2.0], nn.MSELoss())
    acc.reset(s)
    acc.process(s)
    assert acc.process_final(s) == {"mse": 1.0}

    cat = metrics.MetricList(["cat_acc"])
    s = state([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]], [1, 1, -100])     # ignore_index skipped
    cat.reset(s)
    cat.process(s)
    assert cat.process_final(s) == {"acc": 0.5}


def test_metric_decorators():
    @metrics.default_for_key("double_err")
    @metrics.std
    @metrics.running_mean(step_size=2)
    @metrics.mean
    @metrics.lambda_metric("err")
    def err(y_pred, y_true):
        return (y_pred - y_true).abs()

    assert isinstance(err, metrics.MetricTree) and len(err.children) == 3
    m = metrics.MetricList(["double_err"])
    m.reset(None)
    out = [m.process(tb.State({tb.Y_PRED: diffprog.tensor([v]), tb.Y_TRUE: diffprog.tensor([0.0])}))
           for v in (4.0, 6.0, 8.0)]
    assert out == [{"running_err": 4.0}, {"running_err": 4.0}, {"running_err": 6.0}]
    final = m.process_final(None)
    assert final["err"] == 6.0 and final["err_std"] == pytest.approx(2.0)

    @metrics.to_dict
    class Const(metrics.Metric):
        def __init__(self, value):
            super().__init__("const")
            self.value = value

        def process(self, state):
            return self.value

    assert Const(3).process(None) == {"const": 3}

    @metrics.var(unbiased=False)
    @metrics.mean(dim=0)
    class Pair(metrics.Metric):
        def __init__(self):
            super().__init__("pair")

        def process(self, state):
            return np.array([[1.0, 2.0], [3.0, 6.0]])

    p = Pair()
    p.reset(None)
    p.process(None)
    assert p.process_final(None) == {"pair": [2.0, 4.0], "pair_var": pytest.approx(3.5)}


def test_epoch_and_lr_metrics_in_history():
    x, y = blobs(16)
    model = mlp()
    trial = Trial(model, diffprog.optim.SGD(model.parameters(), lr=0.25), nn.CrossEntropyLoss(),
                  metrics=["epoch", "lr", tb.MAX_EPOCHS], verbose=0)
    history = trial.with_train_data(x, y, batch_size=8).with_val_data(x, y, batch_size=8).run(2)
    assert [(h["epoch"], h["lr"], h["max_epochs"]) for h in history] == [(0, 0.25, 2), (1, 0.25, 2)]
    assert "val_epoch" not in history[0]


def test_nan_metric_values_are_floats():
    m = metrics.Mean("m")
    m.process(np.array([np.nan, 1.0]))
    assert math.isnan(m.process_final())
    assert metrics.Mean("m").process_final() is None       # nothing seen: no value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.Std("s").process_final() is None


def test_course_lab_usage():
    """The usual Torchbearer lab: generators, .to(device), evaluate on the test split."""
    x, y = blobs(64)
    loader = diffprog.utils.data.DataLoader(diffprog.utils.data.TensorDataset(x, y), batch_size=16,
                                            shuffle=True)
    test_loader = diffprog.utils.data.DataLoader(diffprog.utils.data.TensorDataset(x, y), batch_size=32)
    device = "cuda:0" if diffprog.cuda.is_available() else "cpu"
    model = mlp()
    trial = Trial(model, diffprog.optim.Adam(model.parameters(), lr=0.03), nn.CrossEntropyLoss(),
                  metrics=["loss", "accuracy"], verbose=0).to(device)
    trial.with_generators(loader, test_generator=test_loader)
    history = trial.run(epochs=3)
    assert "val_loss" not in history[-1] and history[-1]["acc"] > 0.8
    results = trial.evaluate(data_key=tb.TEST_DATA)
    assert set(results) == {"test_loss", "test_acc"} and results["test_acc"] > 0.8
    assert tuple(trial.predict().shape) == (64, 2)      # (x, y) test batches: targets ignored


def test_custom_loader_closure_and_replay():
    x, y = blobs(16)
    loaded, closed = [], []

    def loader(state):
        state[tb.X], state[tb.Y_TRUE] = next(state[tb.ITERATOR])
        loaded.append(state[tb.BATCH])

    base = tb.base_closure(tb.X, tb.MODEL, tb.Y_PRED, tb.Y_TRUE, tb.CRITERION, tb.LOSS, tb.OPTIMIZER)

    def closure(state):
        closed.append(state[tb.BATCH])
        base(state)

    model = mlp()
    trial = Trial(model, diffprog.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), verbose=0)
    history = trial.with_train_data(x, y, batch_size=8).with_loader(loader).with_closure(closure).run(2)
    assert loaded == closed == [0, 1, 0, 1] and history[1]["loss"] < history[0]["loss"]
    seen = []
    record = callbacks.on_end_epoch(lambda s: seen.append((s[tb.EPOCH], s[tb.METRICS])))
    steps = callbacks.on_step_training(lambda s: seen.append(s[tb.BATCH]))
    trial.replay([record, steps], verbose=0)
    assert seen == [0, 1, (0, history[0]), 0, 1, (1, history[1])]
