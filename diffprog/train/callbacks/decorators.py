"""Decorators that make callbacks from functions of the state::

    @callbacks.on_step_training
    def log(state):
        print(state[BATCH], state[METRICS]['running_loss'])

    @callbacks.only_if(lambda state: state[EPOCH] % 5 == 0)
    @callbacks.on_end_epoch
    def every_fifth(state):
        ...

Hook decorators stack (`@on_start @on_end def f(state)` runs f at both), and
`only_if` / `once` / `once_per_epoch` work on such callbacks, on plain functions of the
state and on methods `(self, state)` of Callback subclasses.
"""
import functools
import inspect

from ..state import EPOCH, LOSS
from .callbacks import HOOKS, Callback

__all__ = ["LambdaCallback", "bind_to", "on_init", "on_start", "on_start_epoch",
           "on_start_training", "on_sample", "on_forward", "on_criterion", "on_backward",
           "on_step_training", "on_end_training", "on_start_validation", "on_sample_validation",
           "on_forward_validation", "on_criterion_validation", "on_step_validation",
           "on_end_validation", "on_end_epoch", "on_checkpoint", "on_end", "add_to_loss",
           "only_if", "once", "once_per_epoch"]


class LambdaCallback(Callback):
    """A callback that runs `func(state)` at each hook it is bound to (see `bind_to`)."""

    def __init__(self, func):
        self.func = func

    def on_lambda(self, state):
        return self.func(state)

    def __str__(self):
        return f"LambdaCallback({getattr(self.func, '__name__', self.func)})"


def bind_to(target):
    """A decorator binding `func(state)` (or a LambdaCallback) to the hook `target`: its
    name or the Callback method, e.g. `bind_to(Callback.on_end_epoch)`."""
    hook = target if isinstance(target, str) else target.__name__
    if hook not in HOOKS:
        raise ValueError(f"bind_to: {hook!r} is not a callback hook; the hooks are {', '.join(HOOKS)}")

    def decorator(func):
        callback = func if isinstance(func, LambdaCallback) else LambdaCallback(func)
        setattr(callback, hook, callback.on_lambda)
        return callback
    return decorator


def on_init(func):
    """A callback running func(state) at `on_init`."""
    return bind_to("on_init")(func)


def on_start(func):
    """A callback running func(state) at `on_start`."""
    return bind_to("on_start")(func)


def on_start_epoch(func):
    """A callback running func(state) at `on_start_epoch`."""
    return bind_to("on_start_epoch")(func)


def on_start_training(func):
    """A callback running func(state) at `on_start_training`."""
    return bind_to("on_start_training")(func)


def on_sample(func):
    """A callback running func(state) at `on_sample`."""
    return bind_to("on_sample")(func)


def on_forward(func):
    """A callback running func(state) at `on_forward`."""
    return bind_to("on_forward")(func)


def on_criterion(func):
    """A callback running func(state) at `on_criterion`."""
    return bind_to("on_criterion")(func)


def on_backward(func):
    """A callback running func(state) at `on_backward`."""
    return bind_to("on_backward")(func)


def on_step_training(func):
    """A callback running func(state) at `on_step_training`."""
    return bind_to("on_step_training")(func)


def on_end_training(func):
    """A callback running func(state) at `on_end_training`."""
    return bind_to("on_end_training")(func)


def on_start_validation(func):
    """A callback running func(state) at `on_start_validation`."""
    return bind_to("on_start_validation")(func)


def on_sample_validation(func):
    """A callback running func(state) at `on_sample_validation`."""
    return bind_to("on_sample_validation")(func)


def on_forward_validation(func):
    """A callback running func(state) at `on_forward_validation`."""
    return bind_to("on_forward_validation")(func)


def on_criterion_validation(func):
    """A callback running func(state) at `on_criterion_validation`."""
    return bind_to("on_criterion_validation")(func)


def on_step_validation(func):
    """A callback running func(state) at `on_step_validation`."""
    return bind_to("on_step_validation")(func)


def on_end_validation(func):
    """A callback running func(state) at `on_end_validation`."""
    return bind_to("on_end_validation")(func)


def on_end_epoch(func):
    """A callback running func(state) at `on_end_epoch`."""
    return bind_to("on_end_epoch")(func)


def on_checkpoint(func):
    """A callback running func(state) at `on_checkpoint`."""
    return bind_to("on_checkpoint")(func)


def on_end(func):
    """A callback running func(state) at `on_end`."""
    return bind_to("on_end")(func)


def add_to_loss(func):
    """A callback adding func(state) to the loss, in training and in validation."""
    @on_criterion
    @on_criterion_validation
    def add(state):
        state[LOSS] = state[LOSS] + func(state)
    return add


def _n_params(fn):
    return len(inspect.signature(fn).parameters)


def only_if(condition_expr):
    """Run the decorated callback only when `condition_expr(state)` is true (or
    `condition_expr(owner, state)`, where owner is the Callback for methods and the
    decorated function otherwise: a place to keep the condition's own state)."""
    with_owner = _n_params(condition_expr) == 2

    def condition(owner, state):
        return condition_expr(owner, state) if with_owner else condition_expr(state)

    def decorator(fcn):
        if isinstance(fcn, LambdaCallback):
            fcn.func = decorator(fcn.func)
            return fcn
        if _n_params(fcn) == 2 and not inspect.ismethod(fcn):      # a method (self, state)
            @functools.wraps(fcn)
            def method(self, state):
                if condition(self, state):
                    return fcn(self, state)
            return method

        @functools.wraps(fcn)
        def function(state):
            if condition(function, state):
                return fcn(state)
        return function
    return decorator


def once(fcn):
    """Run the decorated callback only the first time its hook is called (per instance,
    for methods)."""
    token = object()

    def first_time(owner, state):
        done = owner.__dict__.setdefault("_once_done", set())
        if token in done:
            return False
        done.add(token)
        return True
    return only_if(first_time)(fcn)


def once_per_epoch(fcn):
    """Run the decorated callback only the first time its hook is called in each epoch."""
    token = object()

    def first_in_epoch(owner, state):
        last = owner.__dict__.setdefault("_last_epoch", {})
        if last.get(token, None) == state[EPOCH]:
            return False
        last[token] = state[EPOCH]
        return True
    return only_if(first_in_epoch)(fcn)
