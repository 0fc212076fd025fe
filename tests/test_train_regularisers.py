"""The regularising callbacks of Torchbearer's API (diffprog/train/callbacks/regularisers.py)."""
import numpy as np

import diffprog as dp
from diffprog.train import Trial, callbacks as C, state as S


def _data(n=32):
    dp.manual_seed(0)
    x, y = dp.randn(n, 4), dp.randint(0, 3, (n,))
    return dp.utils.data.DataLoader(dp.utils.data.TensorDataset(x, y), batch_size=n)


class Recorder(C.Callback):
    def __init__(self):
        self.seen = []

    def on_criterion(self, state):
        self.seen.append((state[S.X], state[S.Y_TRUE], float(state[S.LOSS])))


def test_weight_decay_adds_the_norm_of_each_parameter():
    model, rec = dp.nn.Linear(4, 3), Recorder()
    Trial(model, None, dp.nn.CrossEntropyLoss(), callbacks=[rec, C.L1WeightDecay(0.5)],
          verbose=0).with_generators(_data()).for_train_steps(1).run(1)
    x, y, plain = rec.seen[0]
    with dp.no_grad():
        ce = float(dp.nn.functional.cross_entropy(model(x), y))
        l1 = float(sum(p.abs().sum() for p in model.parameters()))
    assert abs(plain - ce) < 1e-6
    decayed = Recorder()
    Trial(model, None, dp.nn.CrossEntropyLoss(), callbacks=[C.L2WeightDecay(0.5), decayed],
          verbose=0).with_generators(_data()).for_train_steps(1).run(1)
    l2 = float(sum(p.norm() for p in model.parameters()))
    assert abs(decayed.seen[0][2] - (ce + 0.5 * l2)) < 1e-5 and l1 > 0


def test_label_smoothing_targets():
    rec = Recorder()
    Trial(dp.nn.Linear(4, 3), None, lambda p, t: -(p.log_softmax(1) * t).sum(1).mean(),
          callbacks=[C.LabelSmoothingRegularisation(0.3, classes=3), rec],
          verbose=0).with_generators(_data()).for_train_steps(1).run(1)
    target = rec.seen[0][1].numpy()
    assert np.allclose(target.sum(1), 1) and np.allclose(np.sort(target, 1)[:, -1], 0.7 + 0.1)


def test_mixup_mixes_pairs_and_its_loss():
    from diffprog.train.callbacks.regularisers import MIXUP_PERMUTATION

    class Perm(Recorder):
        def on_criterion(self, state):
            self.seen.append((state[S.X], state[S.Y_TRUE], state[MIXUP_PERMUTATION],
                              float(state[S.LOSS]), state[S.Y_PRED]))
    rec, loader = Perm(), _data()
    x0, y0 = next(iter(loader))
    Trial(dp.nn.Linear(4, 3), None, C.Mixup.mixup_loss, callbacks=[C.Mixup(lam=0.7), rec],
          verbose=0).with_generators(loader).for_train_steps(1).run(1)
    x, (y1, y2), perm, loss, y_pred = rec.seen[0]
    assert dp.allclose(x, 0.7 * x0 + 0.3 * x0[perm]) and dp.equal(y1, y0) and dp.equal(y2, y0[perm])
    ce = dp.nn.functional.cross_entropy
    assert abs(loss - float(0.7 * ce(y_pred, y0) + 0.3 * ce(y_pred, y0[perm]))) < 1e-5


def test_unpack_state_hands_the_model_a_dict():
    class Net(dp.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = dp.nn.Linear(4, 3)

        def forward(self, inputs):
            return {S.Y_PRED: self.fc(inputs[S.X]), "extra": inputs[S.Y_TRUE] * 0}
    rec = Recorder()
    Trial(Net(), None, dp.nn.CrossEntropyLoss(), callbacks=[C.UnpackState(keys=[S.X, S.Y_TRUE]), rec],
          verbose=0).with_generators(_data()).for_train_steps(1).run(1)
    assert isinstance(rec.seen[0][0], dict) and np.isfinite(rec.seen[0][2])
