"""Command line: `python -m diffprog demo`."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m diffprog", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a digit classifier end to end (offline)",
                          description="Train an MLP on handwritten digits with diffprog.nn, "
                                      "optim.Adam and train.Trial; print the test accuracy and "
                                      "write learning curves and a checkpoint.")
    demo.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                      help="digits: scikit-learn's bundled 8x8 digits (default); mnist: real MNIST")
    demo.add_argument("--data-root", default=None,
                      help="folder holding MNIST/raw/ (default: $DIFFPROG_DATA)")
    demo.add_argument("--download", action="store_true", help="fetch MNIST into --data-root if missing")
    demo.add_argument("--out", default="diffprog-demo", help="output folder (default ./diffprog-demo)")
    demo.add_argument("--epochs", type=int, default=None, help="default 20 (digits), 5 (mnist)")
    demo.add_argument("--quick", action="store_true", help="a tiny run (CI smoke test)")
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run
        accuracy = run(args.dataset, args.data_root, args.out, args.epochs, args.quick, args.seed,
                       download=args.download)
        return 0 if args.quick or accuracy >= 0.95 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
