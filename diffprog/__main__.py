"""Command line: `python -m diffprog demo` and `python -m diffprog bench`."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m diffprog", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit a curve with a small network, offline")
    demo.add_argument("--steps", type=int, default=2000, help="gradient steps")
    demo.add_argument("--quick", action="store_true", help="a short run (CI smoke test)")
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run
        return run(steps=200 if args.quick else args.steps, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
