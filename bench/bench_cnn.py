"""Convolutional-network benchmarks, diffprog vs PyTorch:

1. one Adam training step of LeNet-5 (diffprog.vision.models.LeNet5: conv 6@5x5 pad 2,
   relu, maxpool 2, conv 16@5x5, relu, maxpool 2, fc 120, fc 84, fc 10) on 1x28x28
   images, batch 64, cross entropy;
2. forward + backward of ResNet-18, CIFAR variant (diffprog.vision.models.resnet18_cifar),
   batch 32 of 3x32x32, in training mode;
3. peak resident memory of that ResNet-18 forward + backward, each side in a fresh
   subprocess (VmHWM from /proc/self/status, via bench_nn's helper).

    python bench/bench_cnn.py [--threads 1,2] [--skip-resnet] [--skip-memory]

torchvision is not installed, so the PyTorch models are written below in plain torch.nn
with the same architecture and module names; the diffprog model's initial parameters and
buffers are copied into the PyTorch one (same init on both sides).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from runner import add_threads_option, compare, memory_child, peak_memory, pin_threads, trainer  # noqa: E402


def torch_lenet5():
    """LeNet5 of diffprog.vision.models, in torch.nn (same state_dict keys)."""
    import torch.nn as nn

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2))
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
                nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Linear(84, 10))

        def forward(self, x):
            return self.classifier(self.features(x))
    return LeNet5()


def torch_resnet18_cifar(num_classes=10):
    """resnet18_cifar of diffprog.vision.models (torchvision's names), in torch.nn."""
    import torch.nn as nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                                nn.BatchNorm2d(planes))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.Identity()
            self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
            self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
            self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
            self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))
    return ResNet()


def model_pair(name):
    """(diffprog model, torch model) with the same architecture and the same parameters."""
    import diffprog as dp
    import torch
    from diffprog.vision import models
    dp.manual_seed(0)
    dp_model = models.LeNet5() if name == "lenet5" else models.resnet18_cifar()
    th_model = torch_lenet5() if name == "lenet5" else torch_resnet18_cifar()
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in dp_model.state_dict().items()}
    th_model.load_state_dict(state)
    return dp_model, th_model


def forward_backward(lib, model):
    """A function doing forward + backward of cross entropy on a batch (x, y)."""
    loss_fn = lib.nn.CrossEntropyLoss()

    def step(x, y):
        model.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss
    return step


def batch(lib, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, 10, shape[0])
    return lib.tensor(x), lib.tensor(y)


def lenet_step():
    import diffprog as dp
    import torch
    dp_model, th_model = model_pair("lenet5")
    dp_step, th_step = trainer(dp, dp_model), trainer(torch, th_model)
    xd, yd = batch(dp, (64, 1, 28, 28))
    xt, yt = batch(torch, (64, 1, 28, 28))
    return compare("LeNet-5 Adam step, 1x28x28, batch 64", lambda: dp_step(xd, yd),
                   lambda: th_step(xt, yt), number=10, rounds=9, unit="ms")


def resnet_step():
    import diffprog as dp
    import torch
    dp_model, th_model = model_pair("resnet18")
    dp_step, th_step = forward_backward(dp, dp_model), forward_backward(torch, th_model)
    xd, yd = batch(dp, (32, 3, 32, 32))
    xt, yt = batch(torch, (32, 3, 32, 32))
    return compare("ResNet-18 CIFAR fwd+bwd, batch 32", lambda: dp_step(xd, yd),
                   lambda: th_step(xt, yt), number=1, rounds=5, unit="ms")


def resnet_steps(lib):
    """prepare(lib) for runner.memory_child: ResNet-18 (CIFAR) and a batch of 32; the work is
    forward + backward twice (the second step has the gradients' storage in place)."""
    if lib.__name__ == "diffprog":
        from diffprog.vision.models import resnet18_cifar
        model = resnet18_cifar()
    else:
        model = torch_resnet18_cifar()
    step = forward_backward(lib, model)
    x, y = batch(lib, (32, 3, 32, 32))

    def work():
        for _ in range(2):
            step(x, y)
    return work


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads_option(parser)
    parser.add_argument("--skip-resnet", action="store_true", help="LeNet only (fast)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", choices=["diffprog", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.threads[0], resnet_steps)
    import diffprog as dp
    import torch
    for threads in args.threads:
        print(f"diffprog {dp.__version__}, torch {torch.__version__}, {pin_threads(threads)}")
        lenet_step()
        if not args.skip_resnet:
            resnet_step()
        if not args.skip_memory:
            peak_memory(__file__, ["--threads", str(threads)], "ResNet-18 CIFAR fwd+bwd batch 32")


if __name__ == "__main__":
    main()
