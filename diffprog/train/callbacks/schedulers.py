"""Learning-rate scheduler callbacks wrapping `diffprog.optim.lr_scheduler`.

Each builds its scheduler on the trial's optimizer when a run starts and steps it at
the end of every epoch, or after every training batch with `step_on_batch=True`.
Schedulers driven by a metric (ReduceLROnPlateau) step with `state[METRICS][monitor]`.
The scheduler's state is part of the trial's state dict, so a resumed run continues
the schedule where it stopped.
"""
import numpy as np

from ...optim import lr_scheduler
from ...tensor import Tensor
from ..state import METRICS, OPTIMIZER
from .callbacks import Callback

__all__ = ["TorchScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "ReduceLROnPlateau", "CyclicLR", "OneCycleLR"]


def _storable(value):
    """Whether diffprog.save can store the value (callables such as lambdas it can't)."""
    if value is None or isinstance(value, (bool, int, float, str, Tensor, np.ndarray, np.generic)):
        return True
    if isinstance(value, (list, tuple)):
        return all(map(_storable, value))
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    return False


class TorchScheduler(Callback):
    """Runs the scheduler `scheduler_builder(optimizer)`; steps it with the metric
    `monitor` when given."""

    def __init__(self, scheduler_builder, monitor=None, step_on_batch=False):
        self._scheduler_builder = scheduler_builder
        self._monitor, self._step_on_batch = monitor, step_on_batch
        self._scheduler = None
        self._pending_state = None      # loaded before the scheduler exists

    def on_start(self, state):
        optimizer = state[OPTIMIZER]
        if self._scheduler is not None and self._scheduler.optimizer is optimizer:
            return      # a later run() of the same trial continues the schedule
        options = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
        self._scheduler = self._scheduler_builder(optimizer)
        if self._pending_state is not None:
            # Resuming: the constructor reset lr (and momentum) to the schedule's start.
            self._load(self._pending_state)
            self._pending_state = None
            for group, saved in zip(optimizer.param_groups, options):
                group.update(saved)

    def _step(self, state):
        if self._monitor is None:
            self._scheduler.step()
        elif self._monitor in state[METRICS]:
            self._scheduler.step(state[METRICS][self._monitor])
        else:
            raise KeyError(f"{type(self).__name__}: the monitored metric {self._monitor!r} is not among "
                           f"the metrics {sorted(state[METRICS])}")

    def on_step_training(self, state):
        if self._step_on_batch:
            self._step(state)

    def on_end_epoch(self, state):
        if not self._step_on_batch:
            self._step(state)

    def state_dict(self):
        if self._scheduler is None:
            return self._pending_state or {}
        return {k: v for k, v in self._scheduler.state_dict().items() if _storable(v)}

    def load_state_dict(self, state_dict):
        if not state_dict:
            return self
        if self._scheduler is None:
            self._pending_state = state_dict
        else:
            self._load(state_dict)
        return self

    def _load(self, state_dict):
        current = self._scheduler.state_dict()
        # a saved Counter (MultiStepLR's milestones) loads as a plain dict: restore its type
        self._scheduler.load_state_dict({
            k: type(current[k])(v) if isinstance(current.get(k), dict) and type(v) is not type(current[k])
            else v for k, v in state_dict.items()})


class LambdaLR(TorchScheduler):
    """lr = initial lr * lr_lambda(epoch)."""

    def __init__(self, lr_lambda, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.LambdaLR(opt, lr_lambda, last_epoch),
                         step_on_batch=step_on_batch)


class MultiplicativeLR(TorchScheduler):
    """lr *= lr_lambda(epoch) at each step."""

    def __init__(self, lr_lambda, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.MultiplicativeLR(opt, lr_lambda, last_epoch),
                         step_on_batch=step_on_batch)


class StepLR(TorchScheduler):
    """lr *= gamma every step_size epochs."""

    def __init__(self, step_size, gamma=0.1, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.StepLR(opt, step_size, gamma, last_epoch),
                         step_on_batch=step_on_batch)


class MultiStepLR(TorchScheduler):
    """lr *= gamma at each milestone epoch."""

    def __init__(self, milestones, gamma=0.1, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.MultiStepLR(opt, milestones, gamma, last_epoch),
                         step_on_batch=step_on_batch)


class ConstantLR(TorchScheduler):
    """lr * factor until total_iters epochs have passed."""

    def __init__(self, factor=1.0 / 3, total_iters=5, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.ConstantLR(opt, factor, total_iters, last_epoch),
                         step_on_batch=step_on_batch)


class LinearLR(TorchScheduler):
    """lr * a factor going linearly from start_factor to end_factor over total_iters epochs."""

    def __init__(self, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1,
                 step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.LinearLR(opt, start_factor, end_factor, total_iters,
                                                           last_epoch), step_on_batch=step_on_batch)


class ExponentialLR(TorchScheduler):
    """lr *= gamma every epoch."""

    def __init__(self, gamma, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.ExponentialLR(opt, gamma, last_epoch),
                         step_on_batch=step_on_batch)


class PolynomialLR(TorchScheduler):
    """lr decays polynomially to 0 over total_iters epochs."""

    def __init__(self, total_iters=5, power=1.0, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.PolynomialLR(opt, total_iters, power, last_epoch),
                         step_on_batch=step_on_batch)


class CosineAnnealingLR(TorchScheduler):
    """lr follows a cosine from its initial value down to eta_min over T_max epochs."""

    def __init__(self, T_max, eta_min=0.0, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max, eta_min, last_epoch),
                         step_on_batch=step_on_batch)


class CosineAnnealingWarmRestarts(TorchScheduler):
    """Cosine annealing restarted every T_0 epochs (the period growing by T_mult)."""

    def __init__(self, T_0, T_mult=1, eta_min=0.0, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min,
                                                                              last_epoch),
                         step_on_batch=step_on_batch)


class ReduceLROnPlateau(TorchScheduler):
    """lr *= factor when the metric `monitor` has not improved for `patience` epochs."""

    def __init__(self, monitor="val_loss", mode="min", factor=0.1, patience=10, verbose=False,
                 threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8,
                 step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=factor, patience=patience, threshold=threshold,
            threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr, eps=eps),
            monitor=monitor, step_on_batch=step_on_batch)


class CyclicLR(TorchScheduler):
    """lr cycles between base_lr and max_lr (usually stepped per batch: step_on_batch=True)."""

    def __init__(self, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1, step_on_batch=False):
        super().__init__(lambda opt: lr_scheduler.CyclicLR(
            opt, base_lr, max_lr, step_size_up=step_size_up, step_size_down=step_size_down, mode=mode,
            gamma=gamma, scale_fn=scale_fn, scale_mode=scale_mode, cycle_momentum=cycle_momentum,
            base_momentum=base_momentum, max_momentum=max_momentum, last_epoch=last_epoch),
            step_on_batch=step_on_batch)


class OneCycleLR(TorchScheduler):
    """The 1cycle policy over total_steps (or epochs * steps_per_epoch) steps; stepped
    per batch by default."""

    def __init__(self, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1,
                 step_on_batch=True):
        super().__init__(lambda opt: lr_scheduler.OneCycleLR(
            opt, max_lr, total_steps=total_steps, epochs=epochs, steps_per_epoch=steps_per_epoch,
            pct_start=pct_start, anneal_strategy=anneal_strategy, cycle_momentum=cycle_momentum,
            base_momentum=base_momentum, max_momentum=max_momentum, div_factor=div_factor,
            final_div_factor=final_div_factor, three_phase=three_phase, last_epoch=last_epoch),
            step_on_batch=step_on_batch)
