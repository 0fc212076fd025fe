"""All-CNN-C (Springenberg et al., 2015, "Striving for Simplicity"): only convolutions,
strided convs instead of max pooling, global average pooling instead of fully connected layers."""
from ... import nn

__all__ = ["AllConvNet", "allconv"]


class AllConvNet(nn.Module):
    """For 3x32x32 inputs (CIFAR): 32 -> 16 -> 8 -> 6 spatially, then the global average of
    a 1x1 conv with num_classes channels gives the logits."""

    def __init__(self, num_classes=10, in_channels=3, dropout=True):
        super().__init__()

        def conv(cin, cout, k=3, stride=1, padding=1):
            return [nn.Conv2d(cin, cout, k, stride=stride, padding=padding), nn.ReLU(inplace=True)]

        drop = (lambda p: [nn.Dropout(p)]) if dropout else (lambda p: [])
        self.features = nn.Sequential(
            *drop(0.2),
            *conv(in_channels, 96), *conv(96, 96), *conv(96, 96, stride=2),
            *drop(0.5),
            *conv(96, 192), *conv(192, 192), *conv(192, 192, stride=2),
            *drop(0.5),
            *conv(192, 192, padding=0), *conv(192, 192, k=1, padding=0),
            *conv(192, num_classes, k=1, padding=0))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        return self.avgpool(self.features(x)).flatten(1)


def allconv(**kwargs):
    return AllConvNet(**kwargs)
