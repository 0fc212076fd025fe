"""diffprog.compat: unmodified torch / torchvision / torchbearer code on diffprog. The shim
changes the import system, so each check runs in a fresh interpreter (this process has the
real PyTorch imported for the oracle tests)."""
import os
import subprocess
import sys
import textwrap

import pytest

import diffprog as dp
from data import mnist_root

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python(code, *args, cwd=None, expect=0):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, *args] if args else [sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_install_maps_each_name_to_one_module_object():
    out = python("""
        import sys, diffprog.compat
        diffprog.compat.install()
        import torch, torch.nn as nn, torch.nn.functional as F, torch.nn.modules.conv
        import torch.utils.data.dataloader, torch.optim.lr_scheduler, torch.nn.modules.batchnorm
        import torchvision, torchvision.transforms.functional, torchvision.datasets.mnist
        import torchbearer, torchbearer.callbacks.decorators, torchbearer.callbacks.torch_scheduler
        from torchbearer import Trial
        from torch.utils.data import DataLoader
        import diffprog
        assert torch is diffprog and nn is diffprog.nn and F is diffprog.nn.functional
        assert sys.modules["torch.nn.modules.conv"] is diffprog.nn.modules.conv
        assert torchvision is diffprog.vision and torchbearer is diffprog.train
        assert torchbearer.callbacks.decorators is diffprog.train.callbacks.decorators
        assert torchbearer.callbacks.torch_scheduler is diffprog.train.callbacks.schedulers
        assert torch.nn.modules.batchnorm.BatchNorm2d is diffprog.nn.BatchNorm2d
        assert Trial is diffprog.train.Trial and DataLoader is diffprog.utils.data.DataLoader
        # each module keeps its own spec and name, and is imported once, under its own name
        for name in ["torch", "torch.nn", "torch.nn.modules.conv", "torchvision", "torchbearer.callbacks"]:
            m = sys.modules[name]
            assert m.__spec__.name == m.__name__ and m.__name__.startswith("diffprog"), name
            assert sys.modules[m.__name__] is m
        import importlib
        assert importlib.import_module("torch.nn") is diffprog.nn
        assert importlib.util.find_spec("torch.nn").name == "diffprog.nn"
        x = torch.randn(3, requires_grad=True)
        (x * x).sum().backward()
        print("ok", isinstance(x, torch.Tensor), torch.__version__ == diffprog.__version__)
    """)
    assert "ok True True" in out


UNMAPPED = [
    ("import torch.distributed.rpc", "torch.distributed.rpc", "not RPC"),
    ("from torch.distributed.fsdp import FullyShardedDataParallel", "torch.distributed.fsdp",
     "DistributedDataParallel"),
    ("import torch.multiprocessing", "torch.multiprocessing", "Python's multiprocessing"),
    ("import torch.jit", "torch.jit", "TorchScript"),
    ("from torch.utils.tensorboard import SummaryWriter", "torch.utils.tensorboard", "CSVLogger"),
    ("import torch.not_a_module", "torch.not_a_module", "docs/compat.md"),
    ("import torchvision.ops", "torchvision.ops", "docs/compat.md"),
    ("import torchbearer.callbacks.tensor_board", "torchbearer.callbacks.tensor_board", "CSVLogger"),
    ("import torch._C", "torch._C", "docs/compat.md"),
]


def test_unmapped_modules_fail_at_import_naming_module_and_alternative():
    out = python("""
        import diffprog.compat
        diffprog.compat.install()
        for statement in %r:
            try:
                exec(statement)
            except ModuleNotFoundError as e:
                print(statement, "->", e)
    """ % [u[0] for u in UNMAPPED])
    for statement, module, hint in UNMAPPED:
        line = next(ln for ln in out.splitlines() if ln.startswith(statement + " ->"))
        assert f"No module named '{module}' in diffprog" in line and hint in line, line


def test_run_a_script_with_arguments(tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    (tmp_path / "script.py").write_text(textwrap.dedent("""
        import sys, argparse
        import torch, torchvision, torchbearer
        import helper                              # the script's folder is on sys.path
        p = argparse.ArgumentParser()
        p.add_argument("--epochs", type=int)
        args = p.parse_args()
        print(__name__, torch.__name__, torchvision.__name__, torchbearer.__name__, args.epochs,
              helper.VALUE, sys.argv[0])
        sys.exit(3)
    """))
    out = python(None, "-m", "diffprog.compat", str(tmp_path / "script.py"), "--epochs", "2",
                 cwd=str(tmp_path), expect=3)
    assert f"__main__ diffprog diffprog.vision diffprog.train 2 42 {tmp_path / 'script.py'}" in out
    out = python(None, "-m", "diffprog.compat", "-m", "helper", cwd=str(tmp_path))
    out = python(None, "-m", "diffprog.compat", expect=2)
    assert "usage: python -m diffprog.compat SCRIPT.py" in out


def test_refuses_to_install_after_the_real_torch():
    pytest.importorskip("torch")
    out = python("""
        import torch, diffprog.compat
        try:
            diffprog.compat.install()
        except RuntimeError as e:
            print(e)
    """)
    assert "the real torch is already imported" in out


def test_notebook_load_ext_and_one_line():
    pytest.importorskip("IPython")
    out = python("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "diffprog.compat")
        shell.run_cell("import torch, torchvision; name = torch.__name__, torchvision.__name__")
        print(shell.user_ns["name"])
    """)
    assert "('diffprog', 'diffprog.vision')" in out
    out = python("""
        import diffprog.compat; diffprog.compat.install()
        import torch
        diffprog.compat.install()                  # a second call changes nothing
        diffprog.compat.uninstall()
        import sys
        print("torch" in sys.modules, diffprog.compat.installed())
    """)
    assert "False False" in out


def test_torch_compile_is_diffprog_compile():
    if not hasattr(dp, "compile"):
        pytest.skip("diffprog.compile is not on this branch yet")
    out = python("""
        import diffprog.compat; diffprog.compat.install()
        import torch, diffprog
        print(torch.compile is diffprog.compile)
    """)
    assert "True" in out


def test_data_loader_workers_under_the_shim():
    out = python("""
        import diffprog.compat; diffprog.compat.install()
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        data = TensorDataset(torch.arange(12.0).reshape(6, 2), torch.arange(6))
        print([y.tolist() for _, y in DataLoader(data, batch_size=3, num_workers=2)])
    """)
    assert "[[0, 1, 2], [3, 4, 5]]" in out


def test_torchvision_deprecated_dataset_aliases():
    from diffprog.vision import datasets
    train = datasets.MNIST(mnist_root(), train=True)
    test = datasets.MNIST(mnist_root(), train=False)
    for ds, name, target in [(train, "train_data", "data"), (train, "train_labels", "targets"),
                             (test, "test_data", "data"), (test, "test_labels", "targets")]:
        with pytest.warns(UserWarning, match=f"^{name} has been renamed {target}$"):
            assert getattr(ds, name) is getattr(ds, target)


def test_whole_module_save_load_needs_allowed_classes(tmp_path):
    import pickle

    class Net(dp.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = dp.nn.Sequential(dp.nn.Linear(3, 4), dp.nn.ReLU())
            self.encoder = dp.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0)
            self.register_buffer("scale", dp.tensor([2.0]))
            self.register_buffer("cache", dp.ones(2), persistent=False)
            self.name, self.sizes = "net", (3, 4)

        def forward(self, x):
            return self.encoder(self.body(x).unsqueeze(0)) * self.scale

    net = Net().eval()
    path = tmp_path / "net.pt"
    dp.save(net, path)
    with pytest.raises(pickle.UnpicklingError, match="add_safe_globals"):
        dp.load(path)
    with dp.serialization.safe_globals([Net]):
        back = dp.load(path)
    assert dp.serialization.get_safe_globals() == []
    assert type(back) is Net and back.name == "net" and back.sizes == (3, 4) and not back.training
    assert isinstance(back.body[0].weight, dp.nn.Parameter) and "cache" not in back.state_dict()
    x = dp.randn(2, 3)
    assert dp.allclose(back(x), net(x))
    assert [n for n, _ in back.named_parameters()] == [n for n, _ in net.named_parameters()]
    back(x).sum().backward()
    assert all(p.grad is not None for p in back.parameters())
