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

# DIFFPROG_TEST_DEVICE=cuda: tests/oracle.py's checks run on that device; the tests known
# not to pass there yet are listed in device_xfail.txt.
TEST_DEVICE = os.environ.get("DIFFPROG_TEST_DEVICE")


def pytest_collection_modifyitems(config, items):
    if not TEST_DEVICE:
        return
    import pytest
    path = os.path.join(os.path.dirname(__file__), "device_xfail.txt")
    with open(path) as f:
        known = {line.split("#")[0].strip() for line in f} - {""}
    for item in items:
        if item.nodeid in known:
            item.add_marker(pytest.mark.xfail(strict=True, reason="does not run on the device yet"))


def pytest_terminal_summary(terminalreporter):
    oracle = sys.modules.get("oracle")
    if oracle is not None and oracle.CALLS["check"]:
        terminalreporter.write_line(
            f"oracle: {oracle.CALLS['check']} op checks against PyTorch (forward, VJP, double VJP, "
            f"JVP), {oracle.CALLS['fd']} finite-difference gradient elements, {oracle.CALLS['vmap']} vmap "
            f"checks (batching rules, vmap of VJP and JVP)")
