"""`Callback`: code a Trial runs at fixed points of training; `CallbackList` runs many.

The hooks, in the order a Trial calls them::

    on_init                                   (when the Trial is built)
    on_start
      on_start_epoch
        on_start_training
          on_sample, on_forward, on_criterion, on_backward, on_step_training  (per batch)
        on_end_training
        on_start_validation
          on_sample_validation, on_forward_validation, on_criterion_validation,
          on_step_validation                                                  (per batch)
        on_end_validation
      on_end_epoch
      on_checkpoint                           (after the epoch is added to the history)
    on_end

Each hook gets the trial state.  A callback with state worth keeping across a resume
returns it from `state_dict()` (values `diffprog.save` can store) and takes it back in
`load_state_dict`.
"""
import warnings

__all__ = ["Callback", "CallbackList", "HOOKS"]

HOOKS = ("on_init", "on_start", "on_start_epoch", "on_start_training", "on_sample", "on_forward",
         "on_criterion", "on_backward", "on_step_training", "on_end_training",
         "on_start_validation", "on_sample_validation", "on_forward_validation",
         "on_criterion_validation", "on_step_validation", "on_end_validation", "on_end_epoch",
         "on_checkpoint", "on_end")


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        return self

    def __str__(self):
        return type(self).__name__

    def on_init(self, state):
        """The Trial has been built."""

    def on_start(self, state):
        """A run (or evaluate / predict) starts."""

    def on_start_epoch(self, state):
        """An epoch starts."""

    def on_start_training(self, state):
        """The training pass of an epoch starts."""

    def on_sample(self, state):
        """A training batch is in state[X], state[Y_TRUE]."""

    def on_forward(self, state):
        """The model's output is in state[Y_PRED]."""

    def on_criterion(self, state):
        """The loss is in state[LOSS]."""

    def on_backward(self, state):
        """Gradients are computed; the optimizer steps next."""

    def on_step_training(self, state):
        """The optimizer has stepped; this batch's metrics are in state[METRICS]."""

    def on_end_training(self, state):
        """The training pass has ended; its final metrics are in state[METRICS]."""

    def on_start_validation(self, state):
        """A validation (or evaluation / prediction) pass starts."""

    def on_sample_validation(self, state):
        """A validation batch is in state[X], state[Y_TRUE]."""

    def on_forward_validation(self, state):
        """The model's output on the validation batch is in state[Y_PRED]."""

    def on_criterion_validation(self, state):
        """The validation loss is in state[LOSS]."""

    def on_step_validation(self, state):
        """A validation batch is done."""

    def on_end_validation(self, state):
        """The validation pass has ended."""

    def on_end_epoch(self, state):
        """The epoch has ended; state[METRICS] holds its training and validation metrics."""

    def on_checkpoint(self, state):
        """The epoch is in the history: a good time to save."""

    def on_end(self, state):
        """The run has ended."""


def _run_all(hook):
    def run(self, state):
        for callback in self.callback_list:
            getattr(callback, hook)(state)
    run.__name__ = hook
    return run


class CallbackList(Callback):
    """Calls each hook on each of its callbacks, in order."""

    CALLBACK_STATES = "callback_states"
    CALLBACK_TYPES = "callback_types"

    def __init__(self, callback_list):
        self.callback_list = []
        self.append(callback_list)

    def append(self, callback_list):
        for callback in callback_list:
            if isinstance(callback, CallbackList):
                self.callback_list.extend(callback.callback_list)
            elif isinstance(callback, Callback):
                self.callback_list.append(callback)
            else:
                raise TypeError(f"callbacks: expected Callback instances, got {callback!r}")

    def __iter__(self):
        return iter(self.callback_list)

    def __len__(self):
        return len(self.callback_list)

    def copy(self):
        return CallbackList(self.callback_list)

    def __str__(self):
        return str([str(c) for c in self.callback_list])

    def state_dict(self):
        return {self.CALLBACK_STATES: [c.state_dict() for c in self.callback_list],
                self.CALLBACK_TYPES: [type(c).__qualname__ for c in self.callback_list]}

    def load_state_dict(self, state_dict):
        states, types = state_dict[self.CALLBACK_STATES], state_dict[self.CALLBACK_TYPES]
        mine = [type(c).__qualname__ for c in self.callback_list]
        if list(types) != mine:
            warnings.warn(f"callbacks: the saved callbacks {list(types)} differ from these {mine}; "
                          "loading each saved state into the first unused callback of its type")
        unused = list(zip(types, states))
        for callback, name in zip(self.callback_list, mine):
            match = next((i for i, (t, _) in enumerate(unused) if t == name), None)
            if match is not None:
                callback.load_state_dict(unused.pop(match)[1])
        return self


for _hook in HOOKS:
    setattr(CallbackList, _hook, _run_all(_hook))
