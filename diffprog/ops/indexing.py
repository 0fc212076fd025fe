"""TODO."""
METHODS = {}
__all__ = []
