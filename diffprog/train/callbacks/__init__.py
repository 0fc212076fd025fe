"""Callbacks for `diffprog.train.Trial` (Torchbearer's `torchbearer.callbacks`)."""
from . import decorators  # noqa: F401
from .callbacks import Callback, CallbackList  # noqa: F401
from .decorators import *  # noqa: F401,F403
from .aggregate_predictions import AggregatePredictions  # noqa: F401
from .checkpoint import ModelCheckpoint, MostRecent, Best, Interval  # noqa: F401
from .csv_logger import CSVLogger  # noqa: F401
from .early_stopping import EarlyStopping  # noqa: F401
from .gradient_clipping import GradientClipping, GradientNormClipping  # noqa: F401
from .live_plot import LiveLossPlot  # noqa: F401
from .progress import Tqdm, ConsolePrinter  # noqa: F401
from .schedulers import (TorchScheduler, LambdaLR, MultiplicativeLR, StepLR, MultiStepLR,  # noqa: F401
                         ConstantLR, LinearLR, ExponentialLR, PolynomialLR, CosineAnnealingLR,
                         CosineAnnealingWarmRestarts, ReduceLROnPlateau, CyclicLR, OneCycleLR)
from .terminate_on_nan import TerminateOnNaN  # noqa: F401
from .regularisers import (WeightDecay, L1WeightDecay, L2WeightDecay,  # noqa: F401
                           LabelSmoothingRegularisation, Mixup, UnpackState)

__all__ = (["Callback", "CallbackList", "AggregatePredictions", "ModelCheckpoint", "MostRecent",
            "Best", "Interval", "CSVLogger", "EarlyStopping", "GradientClipping",
            "GradientNormClipping", "LiveLossPlot", "Tqdm", "ConsolePrinter", "TorchScheduler",
            "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
            "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
            "ReduceLROnPlateau", "CyclicLR", "OneCycleLR", "TerminateOnNaN", "WeightDecay",
            "L1WeightDecay", "L2WeightDecay", "LabelSmoothingRegularisation", "Mixup",
            "UnpackState"]
           + decorators.__all__)
