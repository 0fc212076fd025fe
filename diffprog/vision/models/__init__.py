"""Model architectures with torchvision's module names (so torchvision state dicts load with
`model.load_state_dict(diffprog.load("resnet18.pth"))`), plus `summary`. No weights are
downloaded: passing `pretrained=True` or `weights=...` raises an error.

    from diffprog.vision import models
    net = models.resnet18_cifar()           # 3x3 stem, no max pool: for 32x32 images
    models.summary(net, (3, 32, 32))
"""
from .alexnet import *  # noqa: F401,F403
from .allconv import *  # noqa: F401,F403
from .googlenet import *  # noqa: F401,F403
from .lenet import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .summary import *  # noqa: F401,F403
from .vgg import *  # noqa: F401,F403
from .vit import *  # noqa: F401,F403
from . import vit as _vit

__all__ = ["AlexNet", "alexnet", "AllConvNet", "allconv", "GoogLeNet", "GoogLeNetOutputs",
           "googlenet", "LeNet5", "lenet5", "ResNet", "BasicBlock", "Bottleneck", "resnet18",
           "resnet34", "resnet50", "resnet101", "resnet152", "resnet18_cifar", "summary",
           "ModelSummary", "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
           "vgg19", "vgg19_bn"] + _vit.__all__
