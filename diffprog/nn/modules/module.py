"""`Module`: the base class of every layer and model.

A module keeps its parameters, buffers and submodules in three ordered dicts
(`_parameters`, `_buffers`, `_modules`); assigning a `Parameter`, a `Module` or a
registered buffer as an attribute puts it there, and `__getattr__` finds it again.
Everything else walks that tree: `named_parameters`, `state_dict` (keys like
`"0.weight"`, `"encoder.fc.bias"`, as PyTorch), `load_state_dict`, `to`, `train`,
`zero_grad`, the printed summary.  Calling a module runs `forward` between its hooks.
"""
import itertools
import weakref
from collections import OrderedDict, namedtuple

from ... import dtypes as _dt
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ..._array import xp
from ...tensor import Tensor
from ..._array.device import check_device, device as _device
from ..parameter import Buffer, Parameter

__all__ = ["Module"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What `load_state_dict` returns: the keys it did not find and those it did not use."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"

    __str__ = __repr__


class RemovableHandle:
    """Returned by the `register_*_hook` methods: `handle.remove()` unregisters the hook
    (also on leaving a `with` block)."""

    _next_id = itertools.count()

    def __init__(self, *hook_dicts):
        self.id = next(RemovableHandle._next_id)
        self._dicts = [weakref.ref(d) for d in hook_dicts]

    def remove(self):
        for ref in self._dicts:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _HookDict(OrderedDict):
    """An OrderedDict that a weak reference can point to (for RemovableHandle)."""


def _addindent(text, n):
    """Indent every line but the first by n spaces (nested module summaries)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * n + line for line in rest])


class Module:
    """Base class for all neural network modules; subclasses define `forward`.

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)      # registered as a submodule
            def forward(self, x):
                return self.fc(x).relu()
    """

    training: bool
    _version = 1
    dump_patches = False
    call_super_init = False

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments {args} {kwargs}")
        setattr_ = super().__setattr__
        setattr_("training", True)
        setattr_("_parameters", OrderedDict())
        setattr_("_buffers", OrderedDict())
        setattr_("_non_persistent_buffers_set", set())
        setattr_("_modules", OrderedDict())
        setattr_("_forward_pre_hooks", _HookDict())
        setattr_("_forward_pre_hooks_with_kwargs", set())
        setattr_("_forward_hooks", _HookDict())
        setattr_("_forward_hooks_with_kwargs", set())
        setattr_("_backward_pre_hooks", _HookDict())
        setattr_("_backward_hooks", _HookDict())
        setattr_("_state_dict_pre_hooks", _HookDict())
        setattr_("_state_dict_hooks", _HookDict())
        setattr_("_load_state_dict_pre_hooks", _HookDict())
        setattr_("_load_state_dict_post_hooks", _HookDict())

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" '
                                  'function')

    # --- calling -----------------------------------------------------------------------

    _compiled_call = None           # set by compile(): calls go through diffprog.compile

    def __call__(self, *args, **kwargs):
        if self._compiled_call is not None:
            return self._compiled_call(*args, **kwargs)
        return self._call_impl(*args, **kwargs)

    def _call_impl(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {res}.")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        backward = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            from ._backward_hooks import BackwardHook
            backward = BackwardHook(self)
            args = backward.wrap_inputs(args)
        result = self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, result)
            else:
                res = hook(self, args, result)
            if res is not None:
                result = res
        if backward is not None:
            result = backward.wrap_outputs(result)
        return result

    def compile(self, *args, **kwargs):
        """Compile this module's calls in place with `diffprog.compile` (same arguments),
        as PyTorch 2's `Module.compile`: afterwards `module(x)` traces and replays."""
        from ...func.compiled import Compiled, compile
        compiled = compile(self, *args, **kwargs)
        if isinstance(compiled, Compiled):
            compiled.in_place(self._call_impl)
            object.__setattr__(self, "_compiled_call", compiled)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """`hook(module, grad_output)` runs when the gradients of the module's outputs are
        known; a non-None result replaces them."""
        return self._add_hook(self._backward_pre_hooks, set(), hook, prepend, False)

    def register_full_backward_hook(self, hook, prepend=False):
        """`hook(module, grad_input, grad_output)` runs when the gradients of the module's
        tensor inputs are known (None for inputs that need none); a non-None result
        replaces grad_input."""
        return self._add_hook(self._backward_hooks, set(), hook, prepend, False)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """`hook(module, args)` runs before `forward`; a non-None result replaces the
        arguments (with_kwargs: `hook(module, args, kwargs)` returning `(args, kwargs)`)."""
        return self._add_hook(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs,
                              hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """`hook(module, args, output)` runs after `forward`; a non-None result replaces the
        output (with_kwargs: `hook(module, args, kwargs, output)`)."""
        return self._add_hook(self._forward_hooks, self._forward_hooks_with_kwargs,
                              hook, prepend, with_kwargs)

    @staticmethod
    def _add_hook(hooks, with_kwargs_set, hook, prepend, with_kwargs):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if with_kwargs:
            with_kwargs_set.add(handle.id)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # --- registration --------------------------------------------------------------------

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, self._parameters)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(diffprog.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, self._modules)
            self._modules[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(diffprog.nn.Module or None expected)")
            self._modules[name] = value
        elif isinstance(value, Buffer) or (params is not None and name in self._buffers):
            if isinstance(value, Buffer):
                self._forget(name, self._buffers)
                self.register_buffer(name, value.data, value.persistent)
            elif value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(diffprog.Tensor or None expected)")
            else:
                self._buffers[name] = value
        else:
            super().__setattr__(name, value)

    def _forget(self, name, keep):
        """Remove name from the instance dict and the registries other than `keep` (where
        it is about to be (re)assigned, keeping its position)."""
        self.__dict__.pop(name, None)
        for d in (self._parameters, self._buffers, self._modules):
            if d is not keep:
                d.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            reg = d.get(registry)
            if reg is not None and name in reg:
                return reg[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                self._non_persistent_buffers_set.discard(name)
                return
        super().__delattr__(name)

    def __dir__(self):
        keys = set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        return sorted(k for k in keys if not k[0].isdigit())

    def _check_name(self, name, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_parameter(self, name, param):
        """Add a parameter (or None, a declared but absent one, like a disabled bias)."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(diffprog.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters "
                             "must be created explicitly. To express '{name}' as a function of another "
                             "Tensor, compute the value in the forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a tensor that is state but not a parameter (e.g. running statistics); a
        persistent buffer is part of the state dict."""
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(diffprog.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add a child module, reachable as the attribute `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The submodule at a dotted path such as `"encoder.layers.0"`."""
        mod = self
        for item in target.split(".") if target else ():
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def get_parameter(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]

    # --- walking the tree ------------------------------------------------------------------

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module and all below it, depth first, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                                remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        seen = set()
        for mod_prefix, mod in modules:
            for name, value in getattr(mod, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, parameter) pairs; a parameter shared by two modules comes once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes and gradients -----------------------------------------------------------------

    def train(self, mode=True):
        """Set training mode (dropout active, batch norm on batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():          # through their own train(): overridable
            module.train(mode)
        return self

    def eval(self):
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters (to None, or to zeros in place)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                with no_grad():
                    p.grad = p.grad.detach().zero_()

    def apply(self, fn):
        """Call fn on every submodule (children first) and on self; e.g. custom init."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # --- device and dtype ---------------------------------------------------------------

    def _apply(self, fn):
        """Replace every parameter's and buffer's data (and gradient) by fn(tensor), keeping
        the Parameter objects (an optimizer built before `.double()` still holds them)."""
        for module in self.children():
            module._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                new = fn(p)
                if new is not p:
                    p._data, p._vc = new._data, [p._vc[0] + 1]
                if p._grad is not None:
                    g = fn(p._grad)
                    if g is not p._grad:
                        p._grad = Tensor._make(g._data)
            for name, b in self._buffers.items():
                if b is not None:
                    self._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """`to(device)`, `to(dtype)`, `to(tensor)` or `to(device, dtype)`: parameters and
        buffers move to the device (in place: the Parameter objects stay, so optimisers made
        before still hold them); floating point ones take the dtype."""
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, _device)):
                device = a
            elif a is not None:
                dtype = a
        check_device(device, "Module.to")
        if dtype is not None:
            dtype = _dt.to_dtype(dtype)
            if not (dtype.is_floating_point or dtype.is_complex):
                raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got "
                                f"desired dtype={dtype}")
        if dtype is None and device is None:
            return self
        return self._apply(lambda t: t.to(device, dtype if t.is_floating_point() or t.is_complex() else None))

    def float(self):
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self):
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self):
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def type(self, dst_type):
        """Cast all parameters and buffers (integer ones too) to dst_type."""
        return self._apply(lambda t: t.type(dst_type))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to(_device("cuda", getattr(device, "index", device)))

    def share_memory(self):
        return self

    # --- state dict ------------------------------------------------------------------------

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of every parameter and persistent buffer by dotted name
        (detached tensors sharing storage with the module's, as in PyTorch)."""
        if args:                       # the old positional form: (destination, prefix, keep_vars)
            destination, prefix, keep_vars = (*args, *(destination, prefix, keep_vars)[len(args):])
        if destination is None:
            destination = OrderedDict()
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            out = hook(self, destination, prefix, {"version": self._version})
            if getattr(hook, "_from_public_api", False):
                if out is not None:
                    raise RuntimeError("state_dict post-hook must return None")
            elif out is not None:
                destination = out
        return destination

    def register_state_dict_pre_hook(self, hook):
        """`hook(module, prefix, keep_vars)` runs before `state_dict` collects this module."""
        return self._add_hook(self._state_dict_pre_hooks, set(), hook, False, False)

    def register_state_dict_post_hook(self, hook):
        """`hook(module, state_dict, prefix, local_metadata)` runs after `state_dict` has
        collected this module (and below); it may change state_dict in place."""
        hook._from_public_api = True
        return self._add_hook(self._state_dict_hooks, set(), hook, False, False)

    def _register_state_dict_hook(self, hook):
        """The older private form: a non-None result replaces the state dict."""
        return self._add_hook(self._state_dict_hooks, set(), hook, False, False)

    def register_load_state_dict_pre_hook(self, hook):
        """`hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)` runs before this module's entries are loaded; it may
        change state_dict in place."""
        return self._add_hook(self._load_state_dict_pre_hooks, set(), hook, False, False)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """The older private form: the hook gets the module only if with_module."""
        if with_module:
            return self.register_load_state_dict_pre_hook(hook)
        return self.register_load_state_dict_pre_hook(lambda module, *args: hook(*args))

    def register_load_state_dict_post_hook(self, hook):
        """`hook(module, incompatible_keys)` runs after `load_state_dict` has loaded this
        module; it may edit incompatible_keys' lists in place (before strict checks them)."""
        return self._add_hook(self._load_state_dict_post_hooks, set(), hook, False, False)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs, assign=False):
        """Copy this module's own entries from state_dict (keys under prefix), recording
        missing keys, and, if strict, keys that name nothing here."""
        for hook in self._load_state_dict_pre_hooks.values():
            hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        persistent = {k: v for k, v in self._buffers.items()
                      if k not in self._non_persistent_buffers_set}
        local = {**{k: v for k, v in self._parameters.items() if v is not None},
                 **{k: v for k, v in persistent.items() if v is not None}}
        for name, param in local.items():
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                if not hasattr(value, "__array__"):
                    error_msgs.append(f'While copying the parameter named "{key}", expected a Tensor '
                                      f"or array from checkpoint but received {type(value)}")
                    continue
                value = Tensor._make(xp.asarray(value))
            if value.shape != param.shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {value.shape} "
                                  f"from checkpoint, the shape in current model is {param.shape}.")
                continue
            with no_grad():
                if assign:
                    new = value if name not in self._parameters else Parameter(value, param.requires_grad)
                    setattr(self, name, new)
                else:
                    param.copy_(value)
        if strict:
            for key in state_dict:
                if key.startswith(prefix):
                    first = key[len(prefix):].split(".", 1)[0]
                    if first not in self._modules and first not in local:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from state_dict into this module (and below).

        With strict=True every key must match; errors are collected and raised together
        (RuntimeError "Error(s) in loading state_dict for ..."), as in PyTorch.  Returns
        (missing_keys, unexpected_keys).  Values may also be NumPy arrays."""
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        state_dict = OrderedDict(state_dict)         # load hooks may edit it; the caller's stays
        missing, unexpected, errors = [], [], []
        modules = list(self.named_modules(remove_duplicate=False))
        for name, module in modules:
            module._load_from_state_dict(state_dict, name + "." if name else "",
                                         {"version": module._version}, True, missing, unexpected,
                                         errors, assign)
        keys = _IncompatibleKeys(missing, unexpected)
        for _, module in reversed(modules):          # children first, as PyTorch's recursion
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, keys) is not None:
                    raise RuntimeError("load_state_dict post hook must return None")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    # --- printing -----------------------------------------------------------------------

    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The part of the summary inside the parentheses (e.g. `in_features=4, ...`)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_addindent(repr(m), 2)}" for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


def _typename(obj):
    if isinstance(obj, Tensor):
        return f"diffprog.{type(obj).__name__}" if type(obj) is Tensor else type(obj).__name__
    return type(obj).__name__
