"""Print `diffprog/_array/cupy_api.py`: which NumPy and SciPy names CuPy lacks, for the
CPU stand-in (`_array/fake_gpu.py`) to refuse as CuPy would.  Needs CuPy importable (no
GPU needed):

    pip install --target /tmp/cupylib cupy-cuda12x fastrlock   # then drop its numpy copy
    PYTHONPATH=/tmp/cupylib python tools/cupy_api.py > diffprog/_array/cupy_api.py
"""
import textwrap

import cupy
import cupyx.scipy.special
import numpy


def _lacking(numpy_module, cupy_module):
    return sorted(name for name in dir(numpy_module) if not name.startswith("_")
                  and callable(getattr(numpy_module, name)) and not isinstance(getattr(numpy_module, name), type)
                  and not hasattr(cupy_module, name))


def _lines(names):
    return textwrap.fill(" ".join(names), 88, initial_indent="    ", subsequent_indent="    ")


def main():
    lacks = {f"numpy{suffix}": _lacking(n, c) for suffix, n, c in [
        ("", numpy, cupy), (".linalg", numpy.linalg, cupy.linalg), (".fft", numpy.fft, cupy.fft)]}
    special = sorted(n for n in dir(cupyx.scipy.special) if not n.startswith("_")
                     and callable(getattr(cupyx.scipy.special, n)))
    print(f'"""What CuPy {cupy.__version__} lacks of NumPy {numpy.__version__}\'s functions, and the '
          'SciPy special\nfunctions it has (cupyx.scipy.special), for the stand-in `fake_gpu.py`.  '
          'Written by\n`tools/cupy_api.py`; do not edit."""')
    print("\nLACKS = {")
    for module, names in lacks.items():
        print(f'    "{module}": set("""\n{_lines(names)}\n    """.split()),')
    print("}\n")
    print(f'SPECIAL = set("""\n{_lines(special)}\n""".split())')


if __name__ == "__main__":
    main()
