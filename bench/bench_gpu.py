"""diffprog on 'cuda' (CuPy) against PyTorch on the same GPU: the MLP Adam step, LeNet-5
Adam step, ResNet-18 CIFAR forward + backward, and the per-op overhead, each side
synchronised after every call.  Needs an NVIDIA GPU, CuPy and a CUDA build of PyTorch:

    python bench/bench_gpu.py            (tools/gpu_check.sh runs it with the GPU tests)

Both sides start from the same weights; the losses of the first step are printed too, as a
check that the two compute the same thing.  With DIFFPROG_FAKE_GPU=1 it runs on the CPU
stand-in against PyTorch on the CPU: a check of the script, not a measurement.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_cnn import batch, forward_backward, model_pair  # noqa: E402
from bench_nn import mlp  # noqa: E402
from runner import compare, trainer  # noqa: E402


FAKE = os.environ.get("DIFFPROG_FAKE_GPU") == "1"
TORCH_DEVICE = "cpu" if FAKE else "cuda"


def synced(lib, fn):
    """fn, then wait for the GPU, so that a call's time is its whole work."""
    def run():
        out = fn()
        if lib.__name__ == "diffprog" or not FAKE:
            lib.cuda.synchronize()
        return out
    return run


def pair(name, dp_fn, th_fn, number, rounds=5, unit="ms"):
    import diffprog as dp
    import torch
    print(f"{'':44s} first loss: diffprog {float(dp_fn()):.6f}, torch {float(th_fn()):.6f}")
    compare(name + " [GPU]", synced(dp, dp_fn), synced(torch, th_fn), number=number, rounds=rounds,
            unit=unit)


def main():
    import diffprog as dp
    import torch
    if not (dp.cuda.is_available() and (FAKE or torch.cuda.is_available())):
        sys.exit("bench_gpu: needs a GPU that both CuPy and PyTorch see")
    print(f"diffprog on {dp.cuda.get_device_name()}, torch {torch.__version__} on {TORCH_DEVICE}")

    x = dp.tensor(np.linspace(-1, 1, 10, dtype=np.float32), device="cuda", requires_grad=True)
    xt = torch.tensor(np.linspace(-1, 1, 10, dtype=np.float32), device=TORCH_DEVICE, requires_grad=True)
    compare("overhead: (x*2+1).relu().sum().backward() [GPU]",
            synced(dp, lambda: (x * 2 + 1).relu().sum().backward()),
            synced(torch, lambda: (xt * 2 + 1).relu().sum().backward()), number=200, unit="us")

    rng = np.random.default_rng(0)
    xs, ys = rng.random((128, 784), dtype=np.float32), rng.integers(0, 10, 128)
    dp.manual_seed(0)
    dp_model = mlp(dp).cuda()
    th_model = mlp(torch).to(TORCH_DEVICE)
    th_model.load_state_dict({k: torch.from_numpy(v.cpu().numpy()) for k, v in dp_model.state_dict().items()})
    dp_step, th_step = trainer(dp, dp_model), trainer(torch, th_model)
    xd, yd = dp.tensor(xs, device="cuda"), dp.tensor(ys, device="cuda")
    xt, yt = torch.tensor(xs, device=TORCH_DEVICE), torch.tensor(ys, device=TORCH_DEVICE)
    pair("MLP 784-256-256-10 Adam step, batch 128", lambda: dp_step(xd, yd), lambda: th_step(xt, yt), 20)

    for name, shape, make in [("lenet5", (64, 1, 28, 28), trainer), ("resnet18", (128, 3, 32, 32), forward_backward)]:
        dp_model, th_model = model_pair(name)
        dp_step, th_step = make(dp, dp_model.cuda()), make(torch, th_model.to(TORCH_DEVICE))
        (xd, yd), (xt, yt) = batch(dp, shape), batch(torch, shape)
        xd, yd, xt, yt = xd.cuda(), yd.cuda(), xt.to(TORCH_DEVICE), yt.to(TORCH_DEVICE)
        label = "LeNet-5 Adam step, batch 64" if name == "lenet5" else "ResNet-18 CIFAR fwd+bwd, batch 128"
        pair(label, lambda: dp_step(xd, yd), lambda: th_step(xt, yt), 5 if name == "lenet5" else 2)


if __name__ == "__main__":
    main()
