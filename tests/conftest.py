import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

# The tests' matrices are small: one BLAS thread is as fast, and on a busy machine several
# threads contending for the cores make OpenBLAS many times slower.
try:
    import numpy  # noqa: F401  (threadpoolctl limits only the BLAS libraries already loaded)
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
except ImportError:
    pass


def pytest_terminal_summary(terminalreporter):
    oracle = sys.modules.get("oracle")
    if oracle is not None and oracle.CALLS["check"]:
        terminalreporter.write_line(
            f"oracle: {oracle.CALLS['check']} op checks against PyTorch (forward, VJP, double VJP, "
            f"JVP), {oracle.CALLS['fd']} finite-difference gradient elements, {oracle.CALLS['vmap']} vmap "
            f"checks (batching rules, vmap of VJP and JVP)")
