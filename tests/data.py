"""Where tests find real datasets: DIFFPROG_DATA (CI points it at ../shared/data)."""
import os

import pytest


def data_root(*parts):
    """DIFFPROG_DATA, or skip the test when it is unset or lacks root/parts."""
    root = os.environ.get("DIFFPROG_DATA")
    if not root or not os.path.exists(os.path.join(root, *parts)):
        pytest.skip(f"needs DIFFPROG_DATA pointing at a folder with {'/'.join(parts)}")
    return root


def mnist_root():
    return data_root("MNIST", "raw")
