"""Print `diffprog/_array/cupy_api.py`: what CuPy lacks of NumPy's and SciPy's API (its
functions, their keyword arguments, ndarray's methods and attributes, ufunc methods'
keywords), for the CPU stand-in (`_array/fake_gpu.py`) to refuse as CuPy would.  Needs
CuPy importable (no GPU needed):

    pip install --target /tmp/cupylib cupy-cuda12x fastrlock   # then drop its numpy copy
    PYTHONPATH=/tmp/cupylib python tools/cupy_api.py > diffprog/_array/cupy_api.py
"""
import inspect
import re
import textwrap

import cupy
import cupyx.scipy.special
import numpy

_MODULES = [("numpy", numpy, cupy), ("numpy.linalg", numpy.linalg, cupy.linalg),
            ("numpy.fft", numpy.fft, cupy.fft)]


def _functions(module):
    return {n: f for n in dir(module) if not n.startswith("_")
            for f in [getattr(module, n)] if callable(f) and not isinstance(f, type)}


def _parameters(f):
    """The parameter names of f, from its signature or (Cython) its docstring's first
    line; None where neither says, or where it takes **kwargs."""
    try:
        ps = inspect.signature(f).parameters.values()
        return None if any(p.kind is p.VAR_KEYWORD for p in ps) else {p.name for p in ps}
    except (TypeError, ValueError):
        m = re.match(r"[\w.]+\((.*?)\)", (f.__doc__ or "").strip())
        if m is None or "**" in m.group(1):
            return None
        return {a.split("=")[0].split()[-1].lstrip("*") for a in m.group(1).split(",") if a.strip()} - {"self"}


def _implemented(ufunc, method):
    """Whether CuPy's ufunc.method is implemented: the ones that are not raise
    NotImplementedError before they look at their (here dummy) arguments."""
    f = getattr(ufunc, method, None)
    if f is None:
        return False
    try:
        f(*[object()] * (1 if method in ("reduce", "accumulate") else 2))
    except NotImplementedError:
        return False
    except Exception:       # noqa: BLE001 (an implemented method failing on the dummy)
        pass
    return True


def _set(names):
    return "{" + ", ".join(f'"{n}"' for n in sorted(names)) + "}" if names else "set()"


def _words(names, indent=8):
    return textwrap.fill(" ".join(sorted(names)), 92, initial_indent=" " * indent,
                         subsequent_indent=" " * indent)


def main():
    lacks, arguments = {}, {}
    for key, n, c in _MODULES:
        theirs, ours = _functions(c), _functions(n)
        lacks[key] = [name for name in ours if name not in theirs and not isinstance(ours[name], type)]
        for name, f in ours.items():
            if name in theirs and not isinstance(f, numpy.ufunc):
                has, wants = _parameters(theirs[name]), _parameters(f)
                if has is not None and wants is not None and wants - has - {"like"}:
                    arguments[f"{key}.{name}"] = wants - has - {"like"}
    lacks["ndarray"] = [n for n in dir(numpy.ndarray) if not n.startswith("_") and not hasattr(cupy.ndarray, n)]
    methods = {n: p for n in dir(cupy.ndarray) if not n.startswith("_") and callable(getattr(cupy.ndarray, n))
               for p in [_parameters(getattr(cupy.ndarray, n))] if p is not None}
    ufunc = {m: _parameters(getattr(cupy.add, m)) for m in ("reduce", "accumulate", "reduceat", "at")}
    ufunc_methods = {m: [n for n in dir(numpy) if isinstance(getattr(numpy, n), numpy.ufunc)
                         and _implemented(getattr(cupy, n, None), m)]
                     for m in ("reduce", "accumulate", "reduceat", "at")}
    special = [n for n in dir(cupyx.scipy.special) if not n.startswith("_")
               and callable(getattr(cupyx.scipy.special, n))]

    print(f'"""What CuPy {cupy.__version__} lacks of NumPy {numpy.__version__}\'s API, and the SciPy '
          'special functions\nit has (cupyx.scipy.special), for the stand-in `fake_gpu.py`.  Written '
          'by `tools/cupy_api.py`;\ndo not edit."""\n')
    print("# functions (and ndarray attributes) CuPy does not have\nLACKS = {")
    for key, names in lacks.items():
        print(f'    "{key}": set("""\n{_words(names)}\n    """.split()),')
    print("}\n\n# NumPy's keyword arguments that CuPy's function of the same name does not take\n"
          "ARGUMENTS = {")
    for key, names in sorted(arguments.items()):
        print(f'    "{key}": {_set(names)},')
    print("}\n\n# the parameters of cupy.ndarray's methods\nMETHODS = {")
    for key, names in sorted(methods.items()):
        print(f'    "{key}": {_set(names)},')
    print("}\n\n# the keywords of CuPy's ufunc methods (__call__ and outer: out, dtype, casting, as its\n"
          "# documentation and cupy/_core/_kernel.pyx say)\n"
          'UFUNC = {\n    "__call__": {"casting", "dtype", "out"},\n    "outer": {"casting", "dtype", "out"},')
    for key, names in ufunc.items():
        print(f'    "{key}": {_set(names)},')
    print("}\n")
    print("# the ufuncs whose reduce, accumulate, reduceat and at CuPy implements (the others\n"
          "# raise NotImplementedError)\nUFUNC_METHODS = {")
    for key, names in ufunc_methods.items():
        print(f'    "{key}": {_set(names)},')
    print("}\n")
    print(f'SPECIAL = set("""\n{_words(special, 4)}\n""".split())')


if __name__ == "__main__":
    main()
