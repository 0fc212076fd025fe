"""ResNet (He et al., 2015) with torchvision's module names, so torchvision state dicts load."""
from ... import nn
from ._utils import no_pretrained

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101",
           "resnet152", "resnet18_cifar"]


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs plus the identity (or a 1x1 projection `downsample`)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, as torchvision's v1.5), 1x1 expand by 4, plus the identity."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """conv1/bn1/relu/maxpool stem, layer1..layer4, avgpool, fc.

    `cifar=True` swaps the stem for a 3x3 stride-1 conv and drops the max pool (the usual
    variant for 32x32 images); the module names stay the same (maxpool becomes Identity).
    `width` is the first stage's channel count (64 in the paper; the stages have width x
    1, 2, 4, 8): a smaller one gives the same depth at a fraction of the cost."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, cifar=False, width=64):
        super().__init__()
        self.inplanes = width
        if cifar:
            self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:  # each residual branch starts as zero, so each block as identity
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _resnet(name, block, layers, pretrained, weights, progress, kwargs):
    no_pretrained(name, pretrained, weights, progress)
    return ResNet(block, layers, **kwargs)


def resnet18(pretrained=False, weights=None, progress=True, **kwargs):
    """ResNet-18 (11.7M parameters at num_classes=1000)."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], pretrained, weights, progress, kwargs)


def resnet34(pretrained=False, weights=None, progress=True, **kwargs):
    """ResNet-34 (21.8M parameters)."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], pretrained, weights, progress, kwargs)


def resnet50(pretrained=False, weights=None, progress=True, **kwargs):
    """ResNet-50 (25.6M parameters, Bottleneck blocks)."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], pretrained, weights, progress, kwargs)


def resnet101(pretrained=False, weights=None, progress=True, **kwargs):
    """ResNet-101 (44.5M parameters)."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], pretrained, weights, progress, kwargs)


def resnet152(pretrained=False, weights=None, progress=True, **kwargs):
    """ResNet-152 (60.2M parameters)."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], pretrained, weights, progress, kwargs)


def resnet18_cifar(num_classes=10, **kwargs):
    """ResNet-18 for 32x32 inputs: 3x3 stride-1 stem, no max pool."""
    return resnet18(num_classes=num_classes, cifar=True, **kwargs)
