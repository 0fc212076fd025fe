"""Turning a list of samples into a batch (`default_collate`) and converting single samples
when batching is off (`default_convert`), with PyTorch's rules: tensors are stacked, NumPy
arrays become tensors, Python floats a float64 tensor, ints an int64 one and bools a bool
one; strings stay as they are; dicts, named tuples and sequences are collated field by
field (tuples come back as lists, as in PyTorch)."""
import collections.abc
import copy

import numpy as np

from ... import dtypes as _dt
from ...creation import as_tensor, tensor
from ...ops import stack
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]


def _is_numpy(x):
    return isinstance(x, (np.ndarray, np.generic))


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _same_mapping(like, items):
    """`items` (a dict) in a mapping of like's type where that type allows it."""
    if isinstance(like, collections.abc.MutableMapping):
        out = copy.copy(like)          # keeps e.g. a defaultdict's factory
        out.update(items)
        return out
    try:
        return type(like)(items)
    except TypeError:
        return items


def _same_sequence(like, items):
    try:
        return type(like)(items)
    except TypeError:
        return items


def default_collate(batch):
    """Merge a list of samples into a batch, recursing into containers."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, (str, bytes)):
        return batch
    if _is_numpy(elem):
        if elem.dtype.kind in "USO":
            raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, "
                            f"dicts or lists; found {elem.dtype}")
        return stack([as_tensor(b) for b in batch], 0) if elem.ndim else as_tensor(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=_dt.float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, collections.abc.Mapping):
        return _same_mapping(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(field) for field in zip(*batch)]
        return fields if isinstance(elem, tuple) else _same_sequence(elem, fields)
    raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem)}")


def default_convert(data):
    """Turn the NumPy arrays and scalars inside `data` into tensors, leaving the rest."""
    if isinstance(data, (str, bytes)):
        return data
    if _is_numpy(data):
        return data if data.dtype.kind in "USO" else as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _same_mapping(data, {key: default_convert(value) for key, value in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        return _same_sequence(data, [default_convert(d) for d in data])
    return data
