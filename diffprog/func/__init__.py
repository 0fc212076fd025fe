"""JAX / torch.func style function transforms: grad, grad_and_value, value_and_grad, vjp,
jvp, jacrev, jacfwd, hessian (transforms.py) and vmap (vmap.py)."""
from .transforms import grad, grad_and_value, value_and_grad, vjp, jvp, jacrev, jacfwd, hessian
from .vmap import vmap

__all__ = ["grad", "grad_and_value", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
           "vmap"]
