"""matplotlib's pyplot for the examples' figures, on the file-only Agg backend, or a clear error."""


def pyplot(example):
    """pyplot, or an ImportError naming the example that wanted it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(f"{example}: writing the plot needs matplotlib (pip install diffprog[demo])") from e
    return plt
