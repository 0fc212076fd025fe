"""Automatic differentiation: reverse mode (`backward`, `grad`), forward mode
(`forward_ad`), custom functions, functional transforms and checks."""
from .engine import backward, grad
from .grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode
from . import forward_ad, functional
from .function import Function, FunctionCtx, once_differentiable
from .anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from .variable import Variable
