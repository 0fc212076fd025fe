"""Apple's Metal backend: never available in diffprog."""


def is_available():
    return False


def is_built():
    return False
