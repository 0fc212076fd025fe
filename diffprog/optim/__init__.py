"""Optimisation algorithms and learning-rate schedules, mirroring `torch.optim`."""
from .optimizer import Optimizer, required
from .sgd import SGD
from .adam import Adam, AdamW, Adamax, NAdam, RAdam
from .adagrad import Adagrad
from .rmsprop import RMSprop
from .adadelta import Adadelta
from .lbfgs import LBFGS
from .cmaes import CMAES
from .zeroth_order import zeroth_order_grad
from . import lr_scheduler

__all__ = ["Optimizer", "required", "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad",
           "RMSprop", "Adadelta", "LBFGS", "CMAES", "zeroth_order_grad", "lr_scheduler"]
