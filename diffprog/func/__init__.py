"""JAX / torch.func style function transforms: grad, grad_and_value, value_and_grad, vjp,
jvp, jacrev, jacfwd, hessian (see transforms.py)."""
from .transforms import grad, grad_and_value, value_and_grad, vjp, jvp, jacrev, jacfwd, hessian

__all__ = ["grad", "grad_and_value", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]
