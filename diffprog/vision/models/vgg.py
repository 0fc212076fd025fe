"""VGG (Simonyan & Zisserman, 2014) with torchvision's features/avgpool/classifier indices."""
from ... import nn
from ._utils import no_pretrained

__all__ = ["VGG", "make_layers", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
           "vgg19", "vgg19_bn"]

cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False):
    """3x3 convs (padding 1, optionally + BatchNorm) with ReLU; "M" is a 2x2 max pool."""
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(name, cfg, batch_norm, pretrained, weights, progress, kwargs):
    no_pretrained(name, pretrained, weights, progress)
    return VGG(make_layers(cfgs[cfg], batch_norm), **kwargs)


def vgg11(pretrained=False, weights=None, progress=True, **kwargs):
    return _vgg("vgg11", "A", False, pretrained, weights, progress, kwargs)


def vgg11_bn(pretrained=False, weights=None, progress=True, **kwargs):
    return _vgg("vgg11_bn", "A", True, pretrained, weights, progress, kwargs)


def vgg13(pretrained=False, weights=None, progress=True, **kwargs):
    return _vgg("vgg13", "B", False, pretrained, weights, progress, kwargs)


def vgg13_bn(pretrained=False, weights=None, progress=True, **kwargs):
    return _vgg("vgg13_bn", "B", True, pretrained, weights, progress, kwargs)


def vgg16(pretrained=False, weights=None, progress=True, **kwargs):
    return _vgg("vgg16", "D", False, pretrained, weights, progress, kwargs)


def vgg16_bn(pretrained=False, weights=None, progress=True, **kwargs):
    return _vgg("vgg16_bn", "D", True, pretrained, weights, progress, kwargs)


def vgg19(pretrained=False, weights=None, progress=True, **kwargs):
    return _vgg("vgg19", "E", False, pretrained, weights, progress, kwargs)


def vgg19_bn(pretrained=False, weights=None, progress=True, **kwargs):
    return _vgg("vgg19_bn", "E", True, pretrained, weights, progress, kwargs)
