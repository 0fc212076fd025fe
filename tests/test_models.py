"""diffprog.vision.models: torchvision's names, shapes and parameter counts; forward/backward
on tiny inputs; loading a torch state dict file; summary."""
import time

import numpy as np
import pytest

import diffprog as dp
from diffprog import nn
from diffprog.vision import models as M

torch = pytest.importorskip("torch")

BUILD_TIMES = {}


def build(name, **kwargs):
    t = time.perf_counter()
    model = getattr(M, name)(**kwargs)
    BUILD_TIMES[name] = time.perf_counter() - t
    return model


@pytest.fixture(scope="module")
def big():
    """The VGGs with weight init switched off (structure only: their NumPy init of 120M+
    random numbers takes seconds); everything else is built normally."""
    mp = pytest.MonkeyPatch()
    for f in ("normal_", "uniform_", "kaiming_normal_", "kaiming_uniform_"):
        mp.setattr(nn.init, f, lambda tensor, *a, **k: tensor)
    try:
        models = {n: build(n) for n in ("vgg11", "vgg16", "vgg16_bn")}
    finally:
        mp.undo()
    models.update({n: build(n) for n in ("resnet18", "resnet34", "resnet50", "alexnet",
                                         "googlenet")})
    return models


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, count", [
    ("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032),
    ("vgg11", 132_863_336), ("vgg16", 138_357_544), ("vgg16_bn", 138_365_992),
    ("alexnet", 61_100_840), ("googlenet", 6_624_904)])
def test_parameter_counts_match_torchvision(big, name, count):
    assert n_params(big[name]) == count


@pytest.mark.parametrize("name, nkeys, keys", [
    ("resnet18", 122, {"conv1.weight": (64, 3, 7, 7), "bn1.num_batches_tracked": (),
                       "layer1.0.conv1.weight": (64, 64, 3, 3),
                       "layer2.0.downsample.0.weight": (128, 64, 1, 1),
                       "layer2.0.downsample.1.running_var": (128,),
                       "layer4.1.bn2.bias": (512,), "fc.weight": (1000, 512), "fc.bias": (1000,)}),
    ("resnet50", 320, {"layer1.0.conv3.weight": (256, 64, 1, 1),
                       "layer1.0.downsample.0.weight": (256, 64, 1, 1),
                       "layer4.2.bn3.weight": (2048,), "fc.weight": (1000, 2048)}),
    ("vgg16", 32, {"features.0.weight": (64, 3, 3, 3), "features.28.weight": (512, 512, 3, 3),
                   "classifier.0.weight": (4096, 25088), "classifier.6.bias": (1000,)}),
    ("vgg16_bn", 97, {"features.1.running_mean": (64,), "features.40.weight": (512, 512, 3, 3),
                      "features.41.num_batches_tracked": (), "classifier.3.weight": (4096, 4096)}),
    ("alexnet", 16, {"features.0.weight": (64, 3, 11, 11), "features.10.weight": (256, 256, 3, 3),
                     "classifier.1.weight": (4096, 9216), "classifier.6.weight": (1000, 4096)}),
    ("googlenet", 344, {"conv1.conv.weight": (64, 3, 7, 7), "conv1.bn.running_var": (64,),
                        "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),
                        "inception5b.branch4.1.bn.weight": (128,), "fc.weight": (1000, 1024)}),
])
def test_state_dict_names_and_shapes(big, name, nkeys, keys):
    sd = big[name].state_dict()
    assert len(sd) == nkeys
    for k, shape in keys.items():
        assert tuple(sd[k].shape) == shape, k


def test_resnet18_key_order():
    keys = list(M.resnet18_cifar().state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                        "bn1.running_var", "bn1.num_batches_tracked"]
    assert keys[6] == "layer1.0.conv1.weight" and keys[-2:] == ["fc.weight", "fc.bias"]
    assert len(keys) == 122


def test_init_like_torchvision(big):
    r = big["resnet18"]
    std = float(r.layer1[0].conv1.weight.std())          # kaiming fan_out: sqrt(2 / (64 * 9))
    assert abs(std - (2 / 576) ** 0.5) < 0.1 * (2 / 576) ** 0.5
    assert float(r.bn1.weight.sum()) == 64 and float(r.bn1.bias.abs().sum()) == 0
    g = big["googlenet"].conv1.conv.weight                 # trunc normal, std 0.01
    assert abs(float(g.std()) - 0.01) < 0.001 and float(g.abs().max()) <= 2


@pytest.mark.parametrize("builder", [M.resnet18, M.vgg16, M.alexnet, M.googlenet])
def test_pretrained_is_refused(builder):
    with pytest.raises(ValueError, match="diffprog.load"):
        builder(pretrained=True)
    with pytest.raises(ValueError, match="load_state_dict"):
        builder(weights="IMAGENET1K_V1")


def _torch_resnet18_cifar():
    """The torchvision ResNet-18 layout (3x3 stem, no max pool) written in torch."""
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.relu = tnn.ReLU()
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.downsample = None if stride == 1 and cin == cout else tnn.Sequential(
                tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + idt)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            for i, (cin, cout, s) in enumerate([(64, 64, 1), (64, 128, 2), (128, 256, 2),
                                                (256, 512, 2)]):
                setattr(self, f"layer{i + 1}", tnn.Sequential(Block(cin, cout, s), Block(cout, cout, 1)))
            self.fc = tnn.Linear(512, 10)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(x.mean((2, 3)))

    return Net()


def test_resnet18_cifar_loads_torch_state_dict_file(tmp_path):
    torch.manual_seed(0)
    ref = _torch_resnet18_cifar()
    with torch.no_grad():                                   # non-trivial BN statistics
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    ref.eval()
    torch.save(ref.state_dict(), tmp_path / "r18.pth")
    model = M.resnet18_cifar()
    model.load_state_dict(dp.load(str(tmp_path / "r18.pth")))
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with dp.no_grad():
        out = model(dp.tensor(x)).numpy()
    np.testing.assert_allclose(out, ref(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-4)


def test_resnet18_cifar_trains():
    dp.manual_seed(0)
    model = M.resnet18_cifar(num_classes=4)
    x, y = dp.randn(2, 3, 32, 32), dp.tensor([1, 3])
    out = model(x)
    assert out.shape == (2, 4)
    nn.functional.cross_entropy(out, y).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    opt = dp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("builder, shape, out", [
    (lambda: M.lenet5(), (2, 1, 28, 28), (2, 10)),
    (lambda: M.lenet5(padding=0, in_channels=3), (2, 3, 32, 32), (2, 10)),
    (lambda: M.allconv(), (2, 3, 32, 32), (2, 10)),
    (lambda: M.resnet18(num_classes=7), (2, 3, 32, 32), (2, 7)),
    (lambda: M.googlenet(num_classes=5).eval(), (1, 3, 32, 32), (1, 5)),
])
def test_small_forward_backward(builder, shape, out):
    model = builder()
    y = model(dp.randn(*shape))
    assert y.shape == out
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_googlenet_aux_outputs():
    model = M.googlenet(num_classes=3, aux_logits=True)
    assert n_params(model) > 6_624_904
    outs = model(dp.randn(2, 3, 64, 64))
    assert isinstance(outs, M.GoogLeNetOutputs) and [o.shape for o in outs] == [(2, 3)] * 3
    assert model.eval()(dp.randn(1, 3, 64, 64)).shape == (1, 3)


def test_allconv_structure():
    model = M.allconv()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 96, 96, 192, 192, 192, 192, 192, 10]
    assert [c.stride for c in convs].count((2, 2)) == 2
    assert n_params(model) == 1_369_738
    assert not any(isinstance(m, (nn.MaxPool2d, nn.Linear)) for m in model.modules())


def test_summary_lenet(capsys):
    model = M.lenet5()
    model.train()
    s = M.summary(model, (1, 28, 28), batch_size=2)
    text = capsys.readouterr().out
    assert model.training                                  # mode restored
    assert [l["type"] for l in s.layers] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU",
                                             "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear",
                                             "ReLU", "Linear"]
    assert s.layers[0]["output_shape"] == [2, 6, 28, 28]
    assert s.layers[3]["params"] == 2416 and s.layers[-1]["output_shape"] == [2, 10]
    assert s.total_params == s.trainable_params == 61_706
    # multiply-adds: 2 * (6*28*28*25 + 16*10*10*150 + 400*120 + 120*84 + 84*10)
    assert s.total_mult_adds == 2 * 416_520
    assert "Conv2d-1 (features.0)" in text and "[2, 6, 28, 28]" in text
    assert "Total params: 61,706" in text and "Total mult-adds: 833,040" in text
    assert s.to_dict()["non_trainable_params"] == 0
    assert not model.features[0]._forward_hooks           # hooks removed


def test_summary_frozen_bn_resnet_and_multiple_inputs():
    model = M.resnet18_cifar()
    for p in model.layer1.parameters():
        p.requires_grad_(False)
    s = M.summary(model, (3, 32, 32), print_summary=False)
    frozen = sum(p.numel() for p in model.layer1.parameters())
    assert s.total_params == 11_173_962 and s.non_trainable_params == frozen
    assert s.layers[-1]["name"] == "fc" and s.layers[-1]["output_shape"] == [1, 10]
    assert sum(l["params"] for l in s.layers) == s.total_params
    assert s.layers[0]["mult_adds"] == 64 * 32 * 32 * 27

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 4)
            self.lin = nn.Linear(3, 4)

        def forward(self, idx, x):
            return self.emb(idx) + self.lin(x)

    s = M.summary(Two(), [(2,), (2, 3)], batch_size=3, dtypes=[dp.int64, dp.float32],
                  print_summary=False)
    assert [l["output_shape"] for l in s.layers] == [[3, 2, 4], [3, 2, 4]]
    assert s.total_mult_adds == 3 * 2 * 4 * 3 and s.total_params == 20 + 16


def test_report_build_times(big):
    print("\nconstruction times:", {k: f"{v:.2f}s" for k, v in BUILD_TIMES.items()})


def test_googlenet_transform_input():
    x = np.random.default_rng(1).standard_normal((1, 3, 2, 2)).astype(np.float32)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    want = (x * std[:, None, None] + mean[:, None, None] - 0.5) / 0.5
    got = M.GoogLeNet(transform_input=True, init_weights=False)._transform_input(dp.tensor(x))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
