"""`python -m diffprog.compat SCRIPT.py [ARGS]` or `python -m diffprog.compat -m MODULE [ARGS]`:
run a PyTorch / torchvision / Torchbearer program unchanged on diffprog."""
import os
import runpy
import sys

from . import install

USAGE = ("usage: python -m diffprog.compat SCRIPT.py [ARGS...]\n"
         "       python -m diffprog.compat -m MODULE [ARGS...]\n"
         "Runs the program with torch, torchvision and torchbearer mapped onto diffprog.")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help") or argv == ["-m"]:
        print(USAGE)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    install()
    if argv[0] == "-m":
        sys.argv = [argv[1]] + argv[2:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        script = argv[0]
        sys.argv = argv
        sys.path[0] = os.path.dirname(os.path.abspath(script))   # where `python SCRIPT` puts it
        runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
