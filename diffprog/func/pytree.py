"""Pytrees: tensors nested in tuples, lists and dicts, as the transforms take and return them."""


def tree_flatten(tree):
    """(leaves, spec): the non-container leaves in order, and how to rebuild the tree."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for x in tree:
            sub, spec = tree_flatten(x)
            leaves += sub
            specs.append(spec)
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for x in tree.values():
            sub, spec = tree_flatten(x)
            leaves += sub
            specs.append(spec)
        return leaves, (dict, (list(tree), specs))
    return [tree], None


def tree_unflatten(leaves, spec):
    it = iter(leaves)

    def build(spec):
        if spec is None:
            return next(it)
        kind, specs = spec
        if kind is dict:
            keys, specs = specs
            return dict(zip(keys, (build(s) for s in specs)))
        return kind(build(s) for s in specs)
    return build(spec)


def tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def broadcast_prefix(prefix, tree, is_leaf=lambda p: not isinstance(p, (tuple, list, dict))):
    """One entry of `prefix` per leaf of `tree`, where prefix is a tree prefix of it: a leaf
    of the prefix (an int or None for vmap's dims) applies to its whole subtree.  Raises
    ValueError when the structures do not fit."""
    if is_leaf(prefix):
        return [prefix] * len(tree_flatten(tree)[0])
    if isinstance(prefix, dict):
        if not isinstance(tree, dict) or set(prefix) != set(tree):
            raise ValueError
        return [d for k in tree for d in broadcast_prefix(prefix[k], tree[k], is_leaf)]
    if not isinstance(tree, (tuple, list)) or len(prefix) != len(tree):
        raise ValueError
    return [d for p, t in zip(prefix, tree) for d in broadcast_prefix(p, t, is_leaf)]
