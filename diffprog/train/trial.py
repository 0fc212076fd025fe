"""`Trial`: fit, evaluate and predict with a model, Torchbearer's way.

    trial = Trial(model, optimizer, nn.CrossEntropyLoss(), metrics=['loss', 'acc'],
                  callbacks=[EarlyStopping(patience=3)])
    trial.with_train_data(x, y, batch_size=64).with_val_data(xv, yv, batch_size=256)
    history = trial.run(epochs=10)        # [{'loss': .., 'acc': .., 'val_loss': .., ...}, ...]

Everything lives in a state dict keyed by `StateKey`s (`diffprog.train.state`), which
callbacks and metrics read and write.  A training epoch is: for each batch, sample it
into state[X] / state[Y_TRUE], let the optimizer step with a closure that runs the
model, the criterion and backward (the model in train mode), then update the metrics;
afterwards a validation pass runs the model in eval mode under no_grad.
`state_dict()` holds the model, optimizer, history, callbacks' states and the random
generators' states, so a run resumed from it continues exactly as an uninterrupted
one (for data loaders shuffled by the global generator or their own `generator`).
"""
import functools
import inspect
import warnings
import weakref

from ..version import __version__
from ..autograd.grad_mode import no_grad
from ..creation import zeros
from ..dtypes import DType, get_default_dtype
from ..random import Generator, default_generator
from ..tensor import Tensor
from .._array.device import check_device
from ..utils.data import DataLoader, TensorDataset, default_collate
from .callbacks import AggregatePredictions, Callback, CallbackList, ConsolePrinter, Tqdm
from .distributed import average_over_ranks, set_sampler_epoch
from .metrics import MetricList
from .state import (BACKWARD_ARGS, BATCH, CALLBACK_LIST, CRITERION, DATA, DATA_TYPE, DEVICE, EPOCH,
                    FINAL_PREDICTIONS, GENERATOR, HISTORY, INF_TRAIN_LOADING, ITERATOR, LOADER, LOSS,
                    MAX_EPOCHS, METRIC_LIST, METRICS, MODEL, OPTIMIZER, RNG_STATE, SAMPLER, SELF, STEPS,
                    STOP_TRAINING, TEST_DATA, TEST_GENERATOR, TEST_STEPS, TRAIN_DATA, TRAIN_GENERATOR,
                    TRAIN_STEPS, VALIDATION_DATA, VALIDATION_GENERATOR, VALIDATION_STEPS, VERSION, X,
                    Y_PRED, Y_TRUE, State)

__all__ = ["Trial", "base_closure", "deep_to", "load_batch_standard", "load_batch_none",
           "load_batch_predict", "MockOptimizer"]

_SPLITS = {TRAIN_DATA: (TRAIN_GENERATOR, TRAIN_STEPS),
           VALIDATION_DATA: (VALIDATION_GENERATOR, VALIDATION_STEPS),
           TEST_DATA: (TEST_GENERATOR, TEST_STEPS)}


class MockOptimizer:
    """Stands in when a Trial has no optimizer: step() just runs the closure."""

    param_groups = []
    state = {}

    def zero_grad(self, set_to_none=True):
        pass

    def step(self, closure=None):
        if closure is not None:
            closure()

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        pass


# --- batches ---------------------------------------------------------------------------

def deep_to(batch, device, dtype):
    """The batch with every tensor on `device` and floating tensors cast to `dtype`
    (through tuples, lists and dicts)."""
    if isinstance(batch, (list, tuple)):
        return type(batch)(deep_to(b, device, dtype) for b in batch)
    if isinstance(batch, dict):
        return {k: deep_to(v, device, dtype) for k, v in batch.items()}
    if isinstance(batch, Tensor):
        return batch.to(device, dtype if batch.is_floating_point() else None)
    return batch


def _next_batch(state):
    """The next batch of state[ITERATOR], starting the generator over when it runs out
    (so that `steps` may exceed its length)."""
    try:
        return next(state[ITERATOR])
    except StopIteration:
        state[ITERATOR] = iter(state[GENERATOR])
        try:
            return next(state[ITERATOR])
        except StopIteration:
            raise RuntimeError("Trial: the data generator yielded no batches (a generator object "
                               "can only be iterated once; pass a DataLoader or set fewer steps)") from None


def load_batch_standard(state):
    """Load an (input, target) batch into state[X], state[Y_TRUE]."""
    state[X], state[Y_TRUE] = deep_to(_next_batch(state), state[DEVICE], state[DATA_TYPE])


def load_batch_none(state):
    """No data (a trial run for a number of steps only): X and Y_TRUE are None."""
    state[X], state[Y_TRUE] = None, None


def load_batch_predict(state):
    """Load an (input, target), (input,) or input batch; Y_TRUE is absent without target."""
    data = deep_to(_next_batch(state), state[DEVICE], state[DATA_TYPE])
    if isinstance(data, (list, tuple)) and len(data) == 2:
        state[X], state[Y_TRUE] = data
        return
    state[X] = data[0] if isinstance(data, (list, tuple)) and len(data) == 1 else data
    state.pop(Y_TRUE, None)


def _regroup(n_inputs, n_targets, samples):
    """Collate samples of TensorDataset(*inputs, *targets) into (x, y), x a tuple of
    n_inputs tensors (one tensor when n_inputs is None), y likewise; (x,) when
    n_targets is 0."""
    batch = default_collate(samples)
    k = 1 if n_inputs is None else n_inputs
    x = batch[0] if n_inputs is None else tuple(batch[:k])
    if n_targets == 0:
        return (x,)
    return x, batch[k] if n_targets is None else tuple(batch[k:])


def _data_loader(x, y, batch_size, shuffle, num_workers):
    """A DataLoader over x (a tensor, or a tuple of them: several inputs) and y (likewise,
    or None for test data), yielding (x, y) batches, or (x,) without y."""
    several_x, several_y = isinstance(x, (list, tuple)), isinstance(y, (list, tuple))
    xs = tuple(x) if several_x else (x,)
    ys = () if y is None else tuple(y) if several_y else (y,)
    dataset = TensorDataset(*xs, *ys)
    if not (several_x or several_y):
        return DataLoader(dataset, batch_size, shuffle=shuffle, num_workers=num_workers)
    collate = functools.partial(_regroup, len(xs) if several_x else None,
                                len(ys) if several_y or y is None else None)
    return DataLoader(dataset, batch_size, shuffle=shuffle, num_workers=num_workers, collate_fn=collate)


# --- calling the model and the criterion -----------------------------------------------

_SIGNATURES = weakref.WeakKeyDictionary()


def _signature(fn):
    """(takes only the state, has a `state` parameter) for a callable (a module's forward
    for modules), remembered per callable."""
    try:
        return _SIGNATURES[fn]
    except (KeyError, TypeError):
        pass
    try:
        params = inspect.signature(getattr(fn, "forward", fn)).parameters.values()
    except (TypeError, ValueError):
        found = (False, False)
    else:
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        found = (not any(p.kind is p.VAR_POSITIONAL for p in params)
                 and sum(p.default is p.empty for p in positional) == 1,
                 any(p.name == "state" and p.kind is not p.POSITIONAL_ONLY for p in params))
    try:
        _SIGNATURES[fn] = found
    except TypeError:
        pass
    return found


def _forward(state, model, x, pass_state):
    """model(*x) for several inputs (x a tuple or list), else model(x); with state=state
    when pass_state or when the model's forward has a `state` parameter."""
    inputs, fn = state[x], state[model]
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    return fn(*args, state=state) if pass_state or _signature(fn)[1] else fn(*args)


def _loss(state, criterion, y_pred, y_true):
    """criterion(state) for a function of the state (one required positional parameter),
    else criterion(y_pred, y_true)."""
    fn = state[criterion]
    return fn(state) if _signature(fn)[0] else fn(state[y_pred], state.get(y_true))


def base_closure(x, model, y_pred, y_true, crit, loss, opt, pass_state=False):
    """The default training step's closure over the given state keys: zero the
    gradients, forward, criterion, backward, with the callbacks between."""
    def closure(state):
        state[opt].zero_grad()
        state[y_pred] = _forward(state, model, x, pass_state)
        state[CALLBACK_LIST].on_forward(state)
        state[loss] = _loss(state, crit, y_pred, y_true)
        state[CALLBACK_LIST].on_criterion(state)
        state[loss].backward(**state[BACKWARD_ARGS])
        state[CALLBACK_LIST].on_backward(state)
    return closure


def _printer(verbose, letter):
    """The progress callback for a verbosity: 2 a bar per pass, 1 a bar over epochs, 0 none.
    Without tqdm, plain printed lines."""
    if verbose <= 0:
        return Callback()
    try:
        return Tqdm(validation_label_letter=letter, on_epoch=verbose == 1)
    except ImportError:
        return ConsolePrinter(validation_label_letter=letter) if verbose >= 2 else Callback()


def _set_mode(model, training):
    if hasattr(model, "train"):
        model.train(training)


class Trial:
    """Trains `model` with `optimizer` on `criterion(y_pred, y_true)` (or
    `criterion(state)`), reporting `metrics` and calling `callbacks`.

    `verbose`: 2 shows a progress bar per pass, 1 one bar over the epochs, 0 nothing.
    `pass_state`: call the model as model(x, state=state) (done anyway when its forward
    has a `state` parameter).  Data: `with_train_data`, `with_generators`, ...; the
    `with_` and `for_` methods return the trial, to chain.
    """

    def __init__(self, model, optimizer=None, criterion=None, metrics=("loss",), callbacks=(),
                 pass_state=False, verbose=2):
        if criterion is None:
            def criterion(state):
                return zeros(1, dtype=state[DATA_TYPE], requires_grad=True)
        self.pass_state, self.verbose = pass_state, verbose
        self.closure = base_closure(X, MODEL, Y_PRED, Y_TRUE, CRITERION, LOSS, OPTIMIZER, pass_state)
        self.state = State({
            MODEL: model, CRITERION: criterion,
            OPTIMIZER: optimizer if optimizer is not None else MockOptimizer(),
            METRIC_LIST: MetricList([metrics] if isinstance(metrics, str) else list(metrics)),
            CALLBACK_LIST: CallbackList(list(callbacks)),
            DEVICE: "cpu", DATA_TYPE: get_default_dtype(), SELF: self, HISTORY: [], BACKWARD_ARGS: {},
            TRAIN_GENERATOR: None, TRAIN_STEPS: None, TRAIN_DATA: None,
            VALIDATION_GENERATOR: None, VALIDATION_STEPS: None, VALIDATION_DATA: None,
            TEST_GENERATOR: None, TEST_STEPS: None, TEST_DATA: None,
            INF_TRAIN_LOADING: False, LOADER: None,
        })
        self._train_iterator = None     # kept across epochs with_inf_train_loader()
        self.state[CALLBACK_LIST].on_init(self.state)

    def __repr__(self):
        parts = [("Optimizer", OPTIMIZER), ("Criterion", CRITERION), ("Metrics", METRIC_LIST),
                 ("Callbacks", CALLBACK_LIST), ("Model", MODEL)]
        return "".join(f"{('-' * 20 + ' ' + name.upper() + ' ').ljust(50, '-')}\n{self.state[key]}\n\n"
                       for name, key in parts)

    # --- data ---------------------------------------------------------------------------

    def _set_split(self, data_key, generator, steps):
        gen_key, steps_key = _SPLITS[data_key]
        if steps is None and generator is not None:
            try:
                steps = len(generator)
            except TypeError:
                raise TypeError(f"Trial: the {data_key} generator has no len(); give the number of "
                                "steps per epoch") from None
        if steps is not None and not isinstance(steps, int):
            warnings.warn(f"Trial: the number of steps ({steps!r}) is not an int, casting to int")
            steps = int(steps)
        self.state[gen_key], self.state[steps_key] = generator, steps
        self.state[data_key] = (generator, steps)
        if data_key == TRAIN_DATA:
            self._train_iterator = None
        return self

    def with_train_generator(self, generator, steps=None):
        """Train on batches (x, y) from `generator` (e.g. a DataLoader), `steps` per
        epoch (default: its length; more steps start it over)."""
        return self._set_split(TRAIN_DATA, generator, steps)

    def with_val_generator(self, generator, steps=None):
        """Validate on batches (x, y) from `generator` after each epoch (and in evaluate)."""
        return self._set_split(VALIDATION_DATA, generator, steps)

    def with_test_generator(self, generator, steps=None):
        """Predict on batches x (or (x,), or (x, y)) from `generator`."""
        return self._set_split(TEST_DATA, generator, steps)

    def with_generators(self, train_generator=None, val_generator=None, test_generator=None,
                        train_steps=None, val_steps=None, test_steps=None):
        if train_generator is not None:
            self.with_train_generator(train_generator, train_steps)
        if val_generator is not None:
            self.with_val_generator(val_generator, val_steps)
        if test_generator is not None:
            self.with_test_generator(test_generator, test_steps)
        return self

    def with_train_data(self, x, y, batch_size=1, shuffle=True, num_workers=0, steps=None):
        """Train on tensors x, y (tuples of tensors for several inputs / outputs)."""
        return self.with_train_generator(_data_loader(x, y, batch_size, shuffle, num_workers), steps)

    def with_val_data(self, x, y, batch_size=1, shuffle=True, num_workers=0, steps=None):
        return self.with_val_generator(_data_loader(x, y, batch_size, shuffle, num_workers), steps)

    def with_test_data(self, x, batch_size=1, num_workers=0, steps=None):
        return self.with_test_generator(_data_loader(x, None, batch_size, False, num_workers), steps)

    def for_train_steps(self, steps):
        """Run `steps` training steps per epoch (without data: X and Y_TRUE are None)."""
        return self._set_split(TRAIN_DATA, self.state[TRAIN_GENERATOR], steps)

    def for_val_steps(self, steps):
        return self._set_split(VALIDATION_DATA, self.state[VALIDATION_GENERATOR], steps)

    def for_test_steps(self, steps):
        return self._set_split(TEST_DATA, self.state[TEST_GENERATOR], steps)

    def for_steps(self, train_steps=None, val_steps=None, test_steps=None):
        if train_steps is not None:
            self.for_train_steps(train_steps)
        if val_steps is not None:
            self.for_val_steps(val_steps)
        if test_steps is not None:
            self.for_test_steps(test_steps)
        return self

    def with_inf_train_loader(self):
        """Don't restart the training generator each epoch: an epoch of `steps` batches
        continues where the last one stopped."""
        self.state[INF_TRAIN_LOADING] = True
        return self

    def with_loader(self, batch_loader):
        """Load batches with `batch_loader(state)` (which sets state[X] and state[Y_TRUE],
        drawing from state[ITERATOR]) instead of the standard (x, y) unpacking."""
        self.state[LOADER] = batch_loader
        return self

    def with_closure(self, closure):
        """Replace the training step's closure(state) (see `base_closure`)."""
        self.closure = closure
        return self

    # --- device and mode -----------------------------------------------------------------

    def to(self, *args, **kwargs):
        """Move the model and optimizer state (model.to(*args, **kwargs)); a dtype also
        becomes the dtype floating batches are cast to."""
        dtype, device = kwargs.get("dtype"), kwargs.get("device")
        for a in args:
            if isinstance(a, DType):
                dtype = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            else:
                device = a
        check_device(device, "Trial.to")
        self.state[MODEL].to(*args, **kwargs)
        for param_state in self.state[OPTIMIZER].state.values():
            for k, v in param_state.items():
                if isinstance(v, Tensor) and k != "step":
                    param_state[k] = v.to(*args, **kwargs)
        if dtype is not None:
            self.state[DATA_TYPE] = dtype
        if device is not None:
            self.state[DEVICE] = str(device)
        return self

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}")

    def cpu(self):
        return self.to("cpu")

    def train(self):
        """Model in training mode, metrics in training mode."""
        _set_mode(self.state[MODEL], True)
        self.state[METRIC_LIST].train()

    def eval(self, data_key=None):
        """Model in eval mode; metrics named for `data_key` ('val_' by default)."""
        _set_mode(self.state[MODEL], False)
        self.state[METRIC_LIST].eval(data_key=data_key)

    # --- running -------------------------------------------------------------------------

    def _callbacks(self, verbose, letter, extra=()):
        verbose = self.verbose if verbose == -1 else verbose
        return CallbackList([_printer(verbose, letter), self.state[CALLBACK_LIST], *extra])

    def _use_data(self, state, data_key, predict=False):
        """Point GENERATOR, STEPS and the batch loader at the split `data_key`."""
        generator, steps = state[data_key] if state[data_key] is not None else (None, None)
        if generator is None:
            loader = load_batch_none
        elif state[LOADER] is not None:
            loader = state[LOADER]
        else:
            loader = load_batch_predict if predict else load_batch_standard
        state[DATA], state[GENERATOR], state[STEPS], state[SAMPLER] = data_key, generator, steps, loader
        return generator is not None or steps is not None

    def run(self, epochs=1, verbose=-1):
        """Train until the history holds `epochs` epochs (validating after each); returns
        the history: one dict of metrics per epoch."""
        state = State(self.state)
        state.update({MAX_EPOCHS: epochs, STOP_TRAINING: False})
        if state[MODEL] is None or not callable(state[MODEL]):
            warnings.warn("Trial: the model is None or not callable; it will return None")
            state[MODEL] = lambda *args, **kwargs: None
        if state[TRAIN_DATA] is None and state[VALIDATION_DATA] is None:
            warnings.warn("Trial.run: no data and no steps given: nothing to run (use with_train_data, "
                          "with_generators or for_train_steps)")
            return self.state[HISTORY]
        callbacks = state[CALLBACK_LIST] = self._callbacks(verbose, "v")
        callbacks.on_start(state)
        for state[EPOCH] in range(len(state[HISTORY]), epochs):
            callbacks.on_start_epoch(state)
            metrics = self._fit_pass(state)
            if state[STOP_TRAINING]:
                break
            metrics.update(self._validation_pass(state))
            state[METRICS] = metrics
            callbacks.on_end_epoch(state)
            self.state[HISTORY].append(dict(state[METRICS], train_steps=state[TRAIN_STEPS],
                                            validation_steps=state[VALIDATION_STEPS]))
            callbacks.on_checkpoint(state)
            if state[STOP_TRAINING]:
                break
        callbacks.on_end(state)
        return self.state[HISTORY]

    def _fit_pass(self, state):
        if not self._use_data(state, TRAIN_DATA):
            state[METRICS] = {}
            return state[METRICS]
        self.train()
        set_sampler_epoch(state[GENERATOR], state[EPOCH])
        if state[INF_TRAIN_LOADING] and self._train_iterator is not None:
            state[ITERATOR] = self._train_iterator
        else:
            state[ITERATOR] = iter(state[GENERATOR]) if state[GENERATOR] is not None else None
        metric_list, callbacks, sample = state[METRIC_LIST], state[CALLBACK_LIST], state[SAMPLER]
        metric_list.reset(state)
        state[METRICS] = {}
        callbacks.on_start_training(state)
        for state[BATCH] in range(state[STEPS]):
            sample(state)
            callbacks.on_sample(state)
            state[OPTIMIZER].step(lambda: self.closure(state))
            with no_grad():
                state[METRICS] = metric_list.process(state)
            callbacks.on_step_training(state)
            if state[STOP_TRAINING]:
                break
        with no_grad():
            state[METRICS].update(metric_list.process_final(state))
        state[METRICS] = average_over_ranks(state[METRICS])
        if state[INF_TRAIN_LOADING]:
            self._train_iterator = state[ITERATOR]
        callbacks.on_end_training(state)
        return state[METRICS]

    def _test_pass(self, state, over_ranks=False):
        """Model in eval mode, under no_grad: forward each batch, and where there are
        targets, the criterion and the metrics (averaged over the ranks with `over_ranks`)."""
        model, callbacks, sample = state[MODEL], state[CALLBACK_LIST], state[SAMPLER]
        metric_list = state[METRIC_LIST]
        was_training = getattr(model, "training", None)
        self.eval(data_key=state[DATA])
        with no_grad():
            state[ITERATOR] = iter(state[GENERATOR]) if state[GENERATOR] is not None else None
            metric_list.reset(state)
            state[METRICS] = {}
            callbacks.on_start_validation(state)
            for state[BATCH] in range(state[STEPS]):
                sample(state)
                callbacks.on_sample_validation(state)
                state[Y_PRED] = _forward(state, MODEL, X, self.pass_state)
                callbacks.on_forward_validation(state)
                if Y_TRUE in state:
                    state[LOSS] = _loss(state, CRITERION, Y_PRED, Y_TRUE)
                    callbacks.on_criterion_validation(state)
                    state[METRICS] = metric_list.process(state)
                callbacks.on_step_validation(state)
                if state[STOP_TRAINING]:
                    break
            if Y_TRUE in state:
                state[METRICS].update(metric_list.process_final(state))
                if over_ranks:
                    state[METRICS] = average_over_ranks(state[METRICS])
            callbacks.on_end_validation(state)
        if was_training is not None:
            _set_mode(model, was_training)
        return state[METRICS]

    def _validation_pass(self, state):
        if not self._use_data(state, VALIDATION_DATA):
            return {}
        state.pop(Y_TRUE, None)
        return dict(self._test_pass(state, over_ranks=True))

    def _one_pass(self, verbose, data_key, letter, predict):
        """The state after a single evaluation pass over `data_key` with the callbacks'
        start/end hooks around it (None when that split has no data)."""
        state = State(self.state)
        state.update({MAX_EPOCHS: 1, EPOCH: 0, STOP_TRAINING: False})
        if not self._use_data(state, data_key, predict):
            warnings.warn(f"Trial: no {data_key} set (use with_{'test' if predict else 'val'}_data "
                          "or the matching generator)")
            return None
        extra = [AggregatePredictions()] if predict else []
        callbacks = state[CALLBACK_LIST] = self._callbacks(verbose, letter, extra)
        callbacks.on_start(state)
        callbacks.on_start_epoch(state)
        self._test_pass(state)
        callbacks.on_end_epoch(state)
        return state

    def evaluate(self, verbose=-1, data_key=None):
        """Metrics of the model on the validation data (or `data_key`'s), named
        'val_...' ('test_...', 'train_...'); they are also added to the last epoch of the
        history."""
        state = self._one_pass(verbose, VALIDATION_DATA if data_key is None else data_key, "e", False)
        if state is None:
            return {}
        if self.state[HISTORY]:
            self.state[HISTORY][-1].update(state[METRICS])
        state[CALLBACK_LIST].on_end(state)
        return state[METRICS]

    def predict(self, verbose=-1, data_key=None):
        """The model's outputs on the test data (or `data_key`'s), concatenated over the
        batches (a tuple of them for several outputs)."""
        state = self._one_pass(verbose, TEST_DATA if data_key is None else data_key, "p", True)
        if state is None:
            return []
        state[CALLBACK_LIST].on_end(state)
        return state[FINAL_PREDICTIONS]

    def replay(self, callbacks=(), verbose=2, one_batch=False):
        """Call `callbacks` (and a printer for `verbose`) as if the epochs in the history
        were being run again, each step seeing the epoch's recorded metrics: e.g. to plot
        a loaded trial.  `one_batch`: one step per pass."""
        history = self.state[HISTORY]
        state = State(self.state)
        state.update({MAX_EPOCHS: len(history), STOP_TRAINING: False})
        cb = state[CALLBACK_LIST] = CallbackList([_printer(verbose, "v"), *callbacks])
        cb.on_start(state)
        for state[EPOCH], record in enumerate(history):
            cb.on_start_epoch(state)
            train_metrics = {k: v for k, v in record.items() if not k.startswith(("val_", "test_"))}
            _replay_pass(state, cb.on_start_training, cb.on_step_training, cb.on_end_training,
                         TRAIN_DATA, train_metrics, record.get("train_steps"), one_batch)
            _replay_pass(state, cb.on_start_validation, cb.on_step_validation, cb.on_end_validation,
                         VALIDATION_DATA, record, record.get("validation_steps"), one_batch)
            state[METRICS] = record
            cb.on_end_epoch(state)
        cb.on_end(state)
        return self

    # --- saving and resuming -------------------------------------------------------------

    def _generators(self):
        """The random generators a run draws from: the global one and the data loaders' own."""
        found = [default_generator]
        for key in (TRAIN_GENERATOR, VALIDATION_GENERATOR):
            loader = self.state[key]
            for g in (getattr(loader, "generator", None),
                      getattr(getattr(loader, "sampler", None), "generator", None)):
                if isinstance(g, Generator) and all(g is not f for f in found):
                    found.append(g)
        return found

    def state_dict(self, **kwargs):
        """Everything needed to resume: model and optimizer state, history, the
        callbacks' states and the random generators' states (string keys; index with
        the state keys, e.g. sd[MODEL])."""
        return {
            str(VERSION): __version__,
            str(MODEL): self.state[MODEL].state_dict(**kwargs),
            str(OPTIMIZER): self.state[OPTIMIZER].state_dict(),
            str(HISTORY): [dict(epoch) for epoch in self.state[HISTORY]],
            str(CALLBACK_LIST): self.state[CALLBACK_LIST].state_dict(),
            str(RNG_STATE): [g.get_state() for g in self._generators()],
        }

    def load_state_dict(self, state_dict, resume=True, **kwargs):
        """Load `state_dict()`'s output: everything with `resume` (run() then continues
        after the saved epochs), else only the model.  A plain model state dict is
        loaded into the model."""
        model = self.state[MODEL]
        if MODEL not in state_dict:
            warnings.warn("Trial.load_state_dict: not a Trial state dict; loading it into the model")
            model.load_state_dict(state_dict, **kwargs)
            return self
        model.load_state_dict(state_dict[MODEL], **kwargs)
        if not resume:
            return self
        if state_dict.get(VERSION, __version__) != __version__:
            warnings.warn(f"Trial.load_state_dict: the state dict was saved by diffprog "
                          f"{state_dict[VERSION]}, this is {__version__}")
        self.state[OPTIMIZER].load_state_dict(state_dict[OPTIMIZER])
        self.state[HISTORY] = [dict(epoch) for epoch in state_dict[HISTORY]]
        self.state[CALLBACK_LIST].load_state_dict(state_dict[CALLBACK_LIST])
        rng_states, generators = state_dict.get(RNG_STATE, []), self._generators()
        if len(rng_states) != len(generators):
            warnings.warn("Trial.load_state_dict: the saved random generator states don't match this "
                          "trial's generators; not restoring them (the data order will differ)")
        else:
            for g, s in zip(generators, rng_states):
                g.set_state(s)
        self._train_iterator = None
        return self


def _replay_pass(state, start, step, end, data_key, metrics, steps, one_batch):
    if steps is None:
        return
    state[DATA], state[STEPS], state[METRICS] = data_key, 1 if one_batch else steps, metrics
    start(state)
    for state[BATCH] in range(state[STEPS]):
        step(state)
    end(state)
