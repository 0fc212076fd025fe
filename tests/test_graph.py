"""Graph networks: PyG-style utilities, MessagePassing, GCNConv and GATConv, checked against
their formulas written densely and against PyTorch Geometric itself (same weights) through
the oracle (forward, VJP, double VJP, JVP, finite differences)."""
import tempfile

import numpy as np
import pytest

import diffprog as dp
from diffprog import nn
from diffprog.nn.utils import graph as G
from oracle import DEVICE, check, rand, torch

# a small directed graph with a node (5) without incoming edges and one self-loop (3 -> 3)
EDGES = np.array([[0, 1, 1, 2, 3, 4, 0, 3, 2, 5], [1, 0, 2, 1, 3, 3, 4, 2, 4, 0]])
N = 6


def with_params(layer, params):
    """The layer with its parameters replaced by the given tensors (any framework)."""
    for name, t in params.items():
        *path, attr = name.split(".")
        mod = layer
        for p in path:
            mod = getattr(mod, p)
        mod._parameters[attr] = t
    return layer


def dense_adjacency(edges, n, weight=None):
    a = np.zeros((n, n))
    np.add.at(a, (edges[1], edges[0]), 1.0 if weight is None else weight)
    return a


def test_gcn_norm_is_the_symmetric_normalisation_with_self_loops():
    w = rand(EDGES.shape[1], low=0.5, high=2.0, seed=1)
    ei, norm = G.gcn_norm(dp.tensor(EDGES), dp.tensor(w), N)
    a = dense_adjacency(EDGES, N, w)
    a[np.arange(N), np.arange(N)] += np.where(np.diag(a) == 0, 1.0, 0.0)   # loops only where missing
    d = a.sum(1) ** -0.5
    np.testing.assert_allclose(dense_adjacency(ei.numpy(), N, norm.numpy()), d[:, None] * a * d[None, :],
                               rtol=1e-12)
    assert ei.shape[1] == EDGES.shape[1] + N - 1        # node 3 already had its loop


def test_utilities():
    ei = dp.tensor(EDGES)
    np.testing.assert_array_equal(G.degree(ei[1], N).numpy(), np.bincount(EDGES[1], minlength=N))
    no_loops, _ = G.remove_self_loops(ei)
    assert no_loops.shape[1] == 9 and not (no_loops[0] == no_loops[1]).any()
    loops, attr = G.add_self_loops(no_loops, dp.ones(9), fill_value=2.0, num_nodes=N)
    assert loops.shape[1] == 15 and attr[9:].tolist() == [2.0] * 6
    und = G.to_undirected(ei)
    pairs = set(map(tuple, und.numpy().T.tolist()))
    assert all((j, i) in pairs and (i, j) in pairs for i, j in EDGES.T) and len(pairs) == und.shape[1]
    adj = G.to_sparse_adj(ei, num_nodes=N)
    np.testing.assert_array_equal(adj.to_dense().numpy(), dense_adjacency(EDGES, N))
    with pytest.raises(ValueError, match="gcn_norm: edge_index must be an integer tensor of shape \\(2, E\\)"):
        G.gcn_norm(dp.tensor(EDGES.T), num_nodes=N)


def test_segment_softmax_matches_torch_per_group():
    index = np.array([0, 2, 0, 2, 2, 3])
    def torch_softmax(src):
        out = torch.zeros_like(src)
        for g in np.unique(index):
            m = torch.tensor(index == g)
            out = out + torch.where(m[:, None], torch.softmax(src.masked_fill(~m[:, None], -torch.inf), 0), 0.0)
        return out
    check(lambda s: G.softmax(s, dp.tensor(index, device=s.device), 4), torch_softmax, rand(6, 2, seed=2) * 5)


@pytest.mark.parametrize("aggr", ["sum", "mean", "max"])
def test_message_passing_aggregations(aggr):
    class Scaled(nn.MessagePassing):
        def message(self, x_j, x_i, weight):
            return weight.unsqueeze(-1) * x_j + 0.1 * x_i

    def ref(x, w):
        msgs = w[:, None] * x[EDGES[0]] + 0.1 * x[EDGES[1]]
        rows = []
        for i in range(N):
            m = msgs[torch.tensor(EDGES[1] == i)]
            if len(m) == 0:
                rows.append(torch.zeros(x.shape[1], dtype=x.dtype))
            else:
                rows.append({"sum": m.sum(0), "mean": m.mean(0), "max": m.max(0).values}[aggr])
        return torch.stack(rows)
    layer = Scaled(aggr)
    check(lambda x, w: layer.propagate(dp.tensor(EDGES, device=x.device), x=x, weight=w), ref, rand(N, 3, seed=3),
          rand(EDGES.shape[1], seed=4))


def test_gcn_conv_is_the_dense_formula():
    dp.manual_seed(0)
    layer = nn.GCNConv(3, 4).double().to(DEVICE)
    x = rand(N, 3, seed=5)
    a = dense_adjacency(EDGES, N)
    a += np.diag(np.where(np.diag(a) == 0, 1.0, 0.0))
    d = a.sum(1) ** -0.5
    w, b = layer.lin.weight.detach().cpu().numpy(), rand(4, seed=6)
    check(lambda x, b: with_params(layer, {"bias": b})(x, dp.tensor(EDGES, device=x.device)),
          lambda x, b: torch.tensor(d[:, None] * a * d[None, :]) @ x @ torch.tensor(w).T + b, x, b)


@pytest.fixture(scope="module")
def pyg(tmp_path_factory):
    """torch_geometric.nn, writing the modules it generates (and never deletes) into a
    temporary folder of pytest's rather than the system's."""
    module = pytest.importorskip("torch_geometric.nn")
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("pyg"))
    yield module
    tempfile.tempdir = saved


@pytest.mark.parametrize("kw", [dict(), dict(improved=True), dict(add_self_loops=False), dict(normalize=False)])
def test_gcn_conv_matches_pyg(pyg, kw):
    ours, theirs = nn.GCNConv(3, 4, **kw), pyg.GCNConv(3, 4, **kw)
    check(lambda x, w, b, ew: with_params(ours, {"lin.weight": w, "bias": b})(x, dp.tensor(EDGES, device=x.device), ew),
          lambda x, w, b, ew: with_params(theirs, {"lin.weight": w, "bias": b})(x, torch.tensor(EDGES), ew),
          rand(N, 3, seed=7), rand(4, 3, seed=8), rand(4, seed=9), rand(EDGES.shape[1], low=0.5, high=2, seed=10),
          jvp=False)


@pytest.mark.parametrize("heads, concat", [(1, True), (3, True), (2, False)])
def test_gat_conv_matches_pyg(pyg, heads, concat):
    ours = nn.GATConv(3, 2, heads=heads, concat=concat)
    theirs = pyg.GATConv(3, 2, heads=heads, concat=concat)
    names = ["lin.weight", "att_src", "att_dst", "bias"]
    shapes = [(2 * heads, 3), (1, heads, 2), (1, heads, 2), (2 * heads if concat else 2,)]
    arrays = [rand(N, 3, seed=11)] + [rand(*s, seed=12 + k) for k, s in enumerate(shapes)]
    check(lambda x, *p: with_params(ours, dict(zip(names, p)))(x, dp.tensor(EDGES, device=x.device)),
          lambda x, *p: with_params(theirs, dict(zip(names, p)))(x, torch.tensor(EDGES)), *arrays, jvp=False)
    out, (ei, alpha) = ours(dp.tensor(arrays[0], device=DEVICE), dp.tensor(EDGES, device=DEVICE),
                            return_attention_weights=True)
    sums = np.zeros((N, heads))
    np.add.at(sums, ei[1].cpu().numpy(), alpha.detach().cpu().numpy())
    np.testing.assert_allclose(sums, 1.0)       # every node's attention over its in-edges sums to 1


def test_layers_forward_mode_and_init():
    """JVPs (torch_geometric's scatter has no forward-mode rules): against finite differences."""
    dp.manual_seed(1)
    for layer in (nn.GCNConv(3, 4).double(), nn.GATConv(3, 2, heads=2).double()):
        x = dp.tensor(rand(N, 3, seed=20))
        v = dp.tensor(rand(N, 3, seed=21))
        _, tangent = dp.func.jvp(lambda x: layer(x, dp.tensor(EDGES)), (x,), (v,))
        eps = 1e-6
        num = (layer(x + eps * v, dp.tensor(EDGES)) - layer(x - eps * v, dp.tensor(EDGES))) / (2 * eps)
        np.testing.assert_allclose(tangent.detach().numpy(), num.detach().numpy(), rtol=1e-6, atol=1e-8)
    layer = nn.GATConv(16, 8, heads=4)
    assert layer.bias.shape == (32,) and float(layer.bias.abs().sum()) == 0
    assert float(layer.att_src.abs().max()) <= (6 / 12) ** 0.5
    assert "3, 4" in repr(nn.GCNConv(3, 4)) and "heads=2" in repr(nn.GATConv(3, 4, heads=2))
    with pytest.raises(ValueError, match="aggr must be"):
        nn.MessagePassing(aggr="median")
