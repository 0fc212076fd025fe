"""cuDNN settings (`backends.cudnn.deterministic = True`, ...).  diffprog does not use
cuDNN, and its CPU kernels are already deterministic; the flags are kept for scripts."""
deterministic = False
benchmark = False
enabled = True
allow_tf32 = True


def is_available():
    return False


def version():
    return None
