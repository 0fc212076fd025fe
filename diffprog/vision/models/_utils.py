"""Helpers shared by the model builders."""


def no_pretrained(name, pretrained=False, weights=None, progress=True):
    """Refuse downloads: diffprog ships no weights and never fetches any."""
    if pretrained or weights is not None:
        raise ValueError(
            f"{name}: pretrained weights are not downloaded by diffprog; build the model without "
            f"them and load a torchvision state dict file instead: "
            f"model.load_state_dict(diffprog.load('{name}.pth'))")
