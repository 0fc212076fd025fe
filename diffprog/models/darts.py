"""DARTS, differentiable architecture search (Liu et al. 2019), on a small convolutional search
space.

Continuous relaxation: every edge (i -> j) of a cell carries all candidate operations at once,
mixed by a softmax over its architecture weights alpha:  o(x) = sum_k softmax(alpha)_k o_k(x).
Each node sums the mixed edges from the cell's input and all earlier nodes; the cell's output
concatenates its nodes.  The network weights w and alpha are learned by alternating steps of
the bilevel problem  min_alpha L_val(w*(alpha), alpha),  w*(alpha) = argmin_w L_train(w, alpha):

  first order   alpha <- alpha - lr_a grad_alpha L_val(w, alpha)     (w* taken as w)
  second order  with the one-step unrolled w' = w - xi grad_w L_train(w, alpha):
                grad_alpha L_val(w', alpha) - xi grad^2_{alpha,w} L_train(w, alpha) grad_w' L_val(w', alpha),
                the Hessian-vector product by central differences at w +- eps v (the paper's eq. 8).

At the end each edge keeps its strongest operation other than 'none' and each node its two
strongest incoming edges (the genotype), which is then trained from scratch.
"""
import math

from .. import nn, optim
from ..autograd import grad
from ..autograd.grad_mode import no_grad
from ..creation import zeros
from ..nn import functional as F
from ..ops import cat

__all__ = ["OPS", "MixedOp", "SearchCell", "DartsNetwork", "Architect", "FixedCell", "FixedNetwork"]


class Zero(nn.Module):
    """The 'none' operation: no connection."""

    def forward(self, x):
        return x * 0.0


def _conv(c, k):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, k, padding=k // 2, bias=False), nn.BatchNorm2d(c, affine=False))


def _dil_conv(c):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=2, dilation=2, bias=False),
                         nn.BatchNorm2d(c, affine=False))


OPS = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: nn.Identity(),
    "conv_3x3": lambda c: _conv(c, 3),
    "conv_5x5": lambda c: _conv(c, 5),
    "dil_conv_3x3": _dil_conv,
    "max_pool_3x3": lambda c: nn.MaxPool2d(3, stride=1, padding=1),
    "avg_pool_3x3": lambda c: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
}


class MixedOp(nn.Module):
    """All candidate operations on one edge, combined with given weights (a softmax of alpha)."""

    def __init__(self, channels, primitives):
        super().__init__()
        self.ops = nn.ModuleList(OPS[p](channels) for p in primitives)

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self.ops))


def _edges(n_nodes):
    """The edges (source, node) of a cell: node j (0-based) has sources 0 (the cell input) .. j."""
    return [(i, j) for j in range(n_nodes) for i in range(j + 1)]


class SearchCell(nn.Module):
    """A cell of `n_nodes` nodes, every edge a MixedOp; input and output have `channels`
    channels (the node concatenation is projected back by a 1x1 convolution)."""

    def __init__(self, channels, n_nodes, primitives):
        super().__init__()
        self.n_nodes = n_nodes
        self.edges = nn.ModuleList(MixedOp(channels, primitives) for _ in _edges(n_nodes))
        self.project = nn.Sequential(nn.ReLU(), nn.Conv2d(channels * n_nodes, channels, 1, bias=False),
                                     nn.BatchNorm2d(channels))

    def forward(self, x, weights):
        states, k = [x], 0
        for j in range(self.n_nodes):
            total = 0
            for i in range(j + 1):
                total = total + self.edges[k](states[i], weights[k])
                k += 1
            states.append(total)
        return x + self.project(cat(states[1:], 1))


class _Backbone(nn.Module):
    """Stem (conv to `channels`, then 2x2 average pooling), the cells with a 2x2 max pool
    between consecutive ones, global average pooling and a linear classifier."""

    def _build(self, in_channels, channels, num_classes):
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.AvgPool2d(2))
        self.classifier = nn.Linear(channels, num_classes)

    def _run(self, x, cell_call):
        x = self.stem(x)
        for i, cell in enumerate(self.cells):
            if i:
                x = F.max_pool2d(x, 2)
            x = cell_call(cell, x)
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


class DartsNetwork(_Backbone):
    """The search network: `n_cells` SearchCells sharing one set of architecture weights
    alpha (edges x primitives), kept apart from the network weights."""

    def __init__(self, in_channels=1, channels=8, num_classes=10, n_cells=2, n_nodes=3,
                 primitives=tuple(OPS)):
        super().__init__()
        self.primitives, self.n_nodes = tuple(primitives), n_nodes
        self._build(in_channels, channels, num_classes)
        self.cells = nn.ModuleList(SearchCell(channels, n_nodes, self.primitives) for _ in range(n_cells))
        self.alpha = nn.Parameter(1e-3 * zeros(len(_edges(n_nodes)), len(self.primitives)).normal_())

    def arch_parameters(self):
        return [self.alpha]

    def weights(self):
        """The network weights: every parameter except alpha."""
        return [p for p in self.parameters() if p is not self.alpha]

    def forward(self, x):
        w = F.softmax(self.alpha, dim=-1)
        return self._run(x, lambda cell, h: cell(h, w))

    def genotype(self, edges_per_node=2):
        """[(operation, source, node), ...]: per node its `edges_per_node` strongest incoming
        edges (by their largest non-'none' weight), each with that operation."""
        w = F.softmax(self.alpha, dim=-1).detach().numpy()
        allowed = [k for k, p in enumerate(self.primitives) if p != "none"]
        chosen = []
        for j in range(self.n_nodes):
            cands = [(max(w[k, a] for a in allowed), k, i) for k, (i, jj) in enumerate(_edges(self.n_nodes)) if jj == j]
            for _, k, i in sorted(cands, reverse=True)[:edges_per_node]:
                op = max(allowed, key=lambda a: w[k, a])
                chosen.append((self.primitives[op], i, j))
        return chosen


class FixedCell(nn.Module):
    """A cell with one operation per chosen edge (a genotype from DartsNetwork.genotype)."""

    def __init__(self, channels, genotype):
        super().__init__()
        self.genotype = list(genotype)
        self.n_nodes = max(j for _, _, j in self.genotype) + 1
        self.ops = nn.ModuleList(OPS[op](channels) for op, _, _ in self.genotype)
        self.project = nn.Sequential(nn.ReLU(), nn.Conv2d(channels * self.n_nodes, channels, 1, bias=False),
                                     nn.BatchNorm2d(channels))

    def forward(self, x):
        states = [x] + [0] * self.n_nodes            # every node has at least one edge
        for (_, i, j), op in zip(self.genotype, self.ops):
            states[j + 1] = states[j + 1] + op(states[i])
        return x + self.project(cat(states[1:], 1))


class FixedNetwork(_Backbone):
    """The searched architecture as an ordinary network (the same backbone, FixedCells)."""

    def __init__(self, genotype, in_channels=1, channels=8, num_classes=10, n_cells=2):
        super().__init__()
        self._build(in_channels, channels, num_classes)
        self.cells = nn.ModuleList(FixedCell(channels, genotype) for _ in range(n_cells))

    def forward(self, x):
        return self._run(x, lambda cell, h: cell(h))


class Architect:
    """The architecture step of DARTS: `step(x_train, y_train, x_val, y_val)` updates alpha by
    Adam (lr `arch_lr`, betas (0.5, 0.999), weight decay 1e-3, as the paper) with the first- or
    second-order gradient; `xi` is the virtual SGD step of the unrolled weights, and the
    finite differences move the weights by a vector of norm `r` (the paper's 0.01; ReLU kinks
    make the difference quotient of gradients inexact when r is large)."""

    def __init__(self, model, arch_lr=3e-3, arch_weight_decay=1e-3, unrolled=False, xi=0.01, r=0.01):
        self.model, self.unrolled, self.xi, self.r = model, unrolled, xi, r
        self.optimizer = optim.Adam(model.arch_parameters(), lr=arch_lr, betas=(0.5, 0.999),
                                    weight_decay=arch_weight_decay)

    def _loss(self, x, y):
        return F.cross_entropy(self.model(x), y)

    def alpha_grad(self, x_train, y_train, x_val, y_val):
        """The architecture gradient (first or second order) at the current weights."""
        alpha, weights = self.model.arch_parameters(), self.model.weights()
        if not self.unrolled:
            return grad(self._loss(x_val, y_val), alpha)
        g_train = grad(self._loss(x_train, y_train), weights)
        saved = [w.detach().clone() for w in weights]
        with no_grad():                                    # w' = w - xi grad_w L_train
            for w, g in zip(weights, g_train):
                w.sub_(self.xi * g)
        out = grad(self._loss(x_val, y_val), alpha + weights)
        d_alpha, v = out[:len(alpha)], out[len(alpha):]
        eps = self.r / math.sqrt(sum(float((g * g).sum()) for g in v))
        hvp = None
        for sign in (1, -1):                               # grad_alpha L_train at w +- eps v
            with no_grad():
                for w, w0, g in zip(weights, saved, v):
                    w.copy_(w0 + sign * eps * g)
            g_a = grad(self._loss(x_train, y_train), alpha)
            hvp = [sign * g for g in g_a] if hvp is None else [h + sign * g for h, g in zip(hvp, g_a)]
        with no_grad():
            for w, w0 in zip(weights, saved):
                w.copy_(w0)
        return [da - self.xi * h / (2 * eps) for da, h in zip(d_alpha, hvp)]

    def step(self, x_train, y_train, x_val, y_val):
        grads = self.alpha_grad(x_train, y_train, x_val, y_val)
        for a, g in zip(self.model.arch_parameters(), grads):
            a.grad = g.detach()
        self.optimizer.step()


