"""The package's structure: no import circles, and no layer imports one above it
(the layers are listed in tools/layers.py)."""
import importlib.util
import os

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "layers.py")
_spec = importlib.util.spec_from_file_location("layers", _PATH)
layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layers)


def test_no_circles_and_no_arrows_up():
    assert layers.problems() == []


def test_the_checker_sees_arrows_up_and_circles(tmp_path):
    pkg = tmp_path / "diffprog"
    (pkg / "ops").mkdir(parents=True)
    (pkg / "nn").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tensor.py").write_text("def f():\n    from .ops import shape\n")       # core -> ops
    (pkg / "ops" / "__init__.py").write_text("")
    (pkg / "ops" / "shape.py").write_text("from .reduction import x\n")
    (pkg / "ops" / "reduction.py").write_text("from . import shape\nfrom ..nn import layer\n")
    (pkg / "nn" / "__init__.py").write_text("")
    (pkg / "nn" / "layer.py").write_text("from ..ops.shape import y\n")
    (pkg / "stray.py").write_text("")
    found = layers.problems(str(pkg))
    assert "diffprog.tensor (core) imports diffprog.ops.shape (ops): an arrow up" in found
    assert "diffprog.ops.reduction (ops) imports diffprog.nn.layer (nn): an arrow up" in found
    assert any(p.startswith("import circle:") and "diffprog.ops.reduction" in p and "diffprog.ops.shape" in p
               for p in found)
    assert "diffprog.stray: in no layer (add it to LAYERS in tools/layers.py)" in found



def test_the_engine_tour_stays_short():
    """docs/engine.md walks through these files and promises fewer than 1,500 lines."""
    root = os.path.dirname(layers.PACKAGE)
    core = ["tensor.py", "ops/op.py", "autograd/engine.py", "autograd/forward_ad.py", "ops/inplace.py"]
    lines = sum(sum(1 for _ in open(os.path.join(root, "diffprog", f), encoding="utf-8")) for f in core)
    assert lines < 1500, f"the core of docs/engine.md is {lines} lines"
