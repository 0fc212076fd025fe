"""JAX / torch.func style function transforms: grad, grad_and_value, value_and_grad, vjp,
jvp, jacrev, jacfwd, hessian (transforms.py) and vmap (vmap.py); calling a module with
other parameters (functional_call.py); implicit differentiation of roots and fixed points
(implicit.py) with iterative linear solvers (linear_solve.py); differentiable optimisers
(`func.optim`)."""
from .transforms import grad, grad_and_value, value_and_grad, vjp, jvp, jacrev, jacfwd, hessian
from .vmap import vmap
from .functional_call import functional_call, stack_module_state, replace_all_batch_norm_modules_
from .implicit import custom_root, custom_fixed_point, fixed_point, FixedPointInfo
from .linear_solve import solve_cg, solve_normal_cg, solve_gmres, solve_richardson
from . import optim

__all__ = ["grad", "grad_and_value", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
           "vmap", "functional_call", "stack_module_state", "replace_all_batch_norm_modules_",
           "custom_root", "custom_fixed_point", "fixed_point", "FixedPointInfo",
           "solve_cg", "solve_normal_cg", "solve_gmres", "solve_richardson", "optim"]
