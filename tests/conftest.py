import os
import sys

sys.path.insert(0, os.path.dirname(__file__))


def pytest_terminal_summary(terminalreporter):
    oracle = sys.modules.get("oracle")
    if oracle is not None and oracle.CALLS["check"]:
        terminalreporter.write_line(
            f"oracle: {oracle.CALLS['check']} op checks against PyTorch (forward, VJP, double VJP, "
            f"JVP), {oracle.CALLS['fd']} finite-difference gradient elements")
