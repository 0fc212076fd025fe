"""LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, the version taught in courses."""
from ... import nn

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """conv 6@5x5, pool, conv 16@5x5, pool, fc 120, fc 84, fc num_classes.

    The default padding=2 on the first conv fits 28x28 MNIST digits; use padding=0 for the
    original 32x32 input. Both give 16x5x5 features."""

    def __init__(self, num_classes=10, in_channels=1, padding=2):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(inplace=True),
            nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def lenet5(**kwargs):
    return LeNet5(**kwargs)
