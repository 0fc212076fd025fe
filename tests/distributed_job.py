"""The 2-rank job of tests/test_distributed.py: run by the launcher, each rank runs every
check and writes what it saw to OUT/rank<r>.json, which the tests compare with values
computed in one process. The models and data are defined here once, for both sides.

    python -m diffprog.distributed.run --nproc-per-node 2 tests/distributed_job.py OUT
"""
import json
import os
import sys
import warnings

import diffprog
import diffprog.distributed as dist
from diffprog import nn
from diffprog.nn.parallel import DistributedDataParallel as DDP
from diffprog.utils.data import DataLoader, DistributedSampler, TensorDataset

F64 = diffprog.float64


def mlp():
    """Three layers, in float64: with bucket_cap_mb=0.01 their gradients fill three buckets."""
    return nn.Sequential(nn.Linear(6, 40), nn.Tanh(), nn.Linear(40, 30), nn.Tanh(),
                         nn.Linear(30, 3)).double()


def data(n=16):
    g = diffprog.Generator().manual_seed(0)
    return diffprog.randn(n, 6, generator=g, dtype=F64), diffprog.randint(0, 3, (n,), generator=g)


def loss_fn(model, x, y):
    return nn.functional.cross_entropy(model(x), y)


def flat(module):
    return [p.detach().reshape(-1).tolist() for p in module.parameters()]


# --- the checks -------------------------------------------------------------------------------

def collectives(r, n):
    out = {}
    for op in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
        x = diffprog.arange(4, dtype=F64) + 2 * r + 1
        dist.all_reduce(x, op=getattr(dist.ReduceOp, op))
        out[f"all_reduce_{op}"] = x.tolist()
    i = diffprog.tensor([3 + r, 12 + r])
    dist.all_reduce(i, op=dist.ReduceOp.BXOR)
    out["all_reduce_int_BXOR"] = i.tolist()
    b = diffprog.tensor([r == 0, False])
    dist.all_reduce(b)
    out["all_reduce_bool_SUM"] = b.tolist()
    x = diffprog.ones(3) * (r + 1)
    version = x._version
    work = dist.all_reduce(x, async_op=True)
    out["async"] = [work.wait(), x.tolist(), work.is_completed(), x._version > version]
    m = diffprog.zeros(3, 4)
    m[:, 1] = r + 1.0
    dist.all_reduce(m[:, 1])                        # a non-contiguous view, written back
    out["view"] = m.tolist()
    x = diffprog.full((2,), float(r + 1))
    dist.broadcast(x, src=1)
    out["broadcast"] = x.tolist()
    x = diffprog.full((2,), float(r + 1))
    dist.reduce(x, dst=1, op=dist.ReduceOp.SUM)
    out["reduce"] = x.tolist()
    pieces = [diffprog.zeros(2) for _ in range(n)]
    dist.all_gather(pieces, diffprog.tensor([r, 10.0 * r]))
    out["all_gather"] = [p.tolist() for p in pieces]
    cat = diffprog.zeros(2 * n)
    dist.all_gather_single(cat, diffprog.tensor([r, 10.0 * r]))
    out["all_gather_single"] = cat.tolist()
    gathered = [diffprog.zeros(2) for _ in range(n)] if r == 0 else None
    dist.gather(diffprog.tensor([r, -1.0 * r]), gathered, dst=0)
    out["gather"] = [p.tolist() for p in gathered] if r == 0 else None
    x = diffprog.zeros(2)
    dist.scatter(x, [diffprog.tensor([k, 100.0 + k]) for k in range(n)] if r == 1 else None, src=1)
    out["scatter"] = x.tolist()
    objects = [None] * n
    dist.all_gather_object(objects, {"rank": r, "name": f"r{r}"})
    out["all_gather_object"] = objects
    sent = ["from rank 0", 7] if r == 0 else [None, None]
    dist.broadcast_object_list(sent, src=0)
    out["broadcast_object_list"] = sent
    if r == 0:
        dist.send(diffprog.tensor([4.0, 5.0]), dst=1)
    else:
        got = diffprog.zeros(2)
        out["recv"] = [dist.recv(got), got.tolist()]
    solo = dist.new_group([1])
    out["new_group"] = [dist.get_rank(solo), solo.size()]
    if r == 1:
        x = diffprog.tensor([2.0])
        dist.all_reduce(x, group=solo)
        out["new_group_all_reduce"] = x.tolist()
    try:
        dist.all_reduce(diffprog.tensor([1, 2]), op=dist.ReduceOp.AVG)
    except ValueError as e:
        out["avg_int_error"] = str(e)
    dist.barrier()
    return out


def scatter_and_exchange(r, n):
    """reduce_scatter, all_to_all, batch_isend_irecv, group ranks (torch 2.13's newer
    collectives); the test computes what each rank must see."""
    out = {}
    x = diffprog.zeros(2)
    dist.reduce_scatter(x, [diffprog.tensor([10.0 * r + j, 1.0]) for j in range(n)])
    out["reduce_scatter"] = x.tolist()
    work = dist.reduce_scatter(x, [diffprog.tensor([10.0 * r + j, 1.0]) for j in range(n)],
                               op=dist.ReduceOp.AVG, async_op=True)
    out["reduce_scatter_avg_async"] = [work.wait(), x.tolist()]
    x = diffprog.zeros(2, dtype=F64)
    dist.reduce_scatter_single(x, diffprog.arange(2 * n, dtype=F64) + 100 * r)
    out["reduce_scatter_single"] = x.tolist()
    stacked = (diffprog.arange(2 * n, dtype=F64) + 100 * r).reshape(n, 2)
    dist.reduce_scatter_single(x, stacked, op=dist.ReduceOp.MAX)
    out["reduce_scatter_single_stacked_max"] = x.tolist()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist.reduce_scatter_tensor(x, stacked)
        dist.all_gather_into_tensor(diffprog.zeros(2 * n, dtype=F64), x)
    out["deprecated"] = [w.category.__name__ for w in caught]
    cat = diffprog.zeros(n, 2, dtype=diffprog.int32)
    dist.all_gather_single(cat, diffprog.tensor([r, -r], dtype=diffprog.int32))
    out["all_gather_single"] = cat.tolist()
    # all_to_all: rank r sends rank j (j + 1 + r) copies of 10 r + j, in float16
    inputs = [diffprog.full((j + 1 + r,), 10.0 * r + j, dtype=diffprog.float16) for j in range(n)]
    outputs = [diffprog.zeros(r + 1 + j, dtype=diffprog.float16) for j in range(n)]
    dist.all_to_all(outputs, inputs)
    out["all_to_all"] = [o.tolist() for o in outputs]
    # all_to_all_single with uneven splits: rank 0 sends 1 row to itself and 2 to rank 1,
    # rank 1 sends 3 rows to rank 0 and 1 to itself
    splits = [[1, 2], [3, 1]]
    rows = sum(splits[r])
    x = (diffprog.arange(rows * 2, dtype=diffprog.int64) + 100 * r).reshape(rows, 2)
    y = diffprog.zeros(splits[0][r] + splits[1][r], 2, dtype=diffprog.int64)
    dist.all_to_all_single(y, x, [splits[0][r], splits[1][r]], splits[r])
    out["all_to_all_single_uneven"] = y.tolist()
    y = diffprog.zeros(2 * n)
    work = dist.all_to_all_single(y, diffprog.arange(2.0 * n) + 10 * r, async_op=True)
    work.wait()
    out["all_to_all_single_even"] = y.tolist()
    try:
        dist.all_to_all_single(diffprog.zeros(3), diffprog.zeros(3))
    except ValueError as e:
        out["all_to_all_single_error"] = str(e)
    # batch_isend_irecv: both ranks send to each other first (a blocking send could deadlock)
    big = diffprog.full((200_000,), float(r))
    got = diffprog.zeros(200_000)
    peer = (r + 1) % n
    ops = [dist.P2POp(dist.isend, big, peer), dist.P2POp(dist.irecv, got, group_peer=peer)]
    for w in dist.batch_isend_irecv(ops):
        w.wait()
    out["batch_isend_irecv"] = [got[0].item(), got[-1].item(), got.sum().item()]
    # a group whose rank 0 is global rank 1 (sort_ranks=False): group_src is in the group
    backwards = dist.new_group([1, 0], sort_ranks=False)
    x = diffprog.tensor([float(r)])
    dist.broadcast(x, group=backwards, group_src=0)
    out["group_src"] = [dist.get_rank(backwards), x.item()]
    gathered = [diffprog.zeros(1) for _ in range(n)] if r == 1 else None
    dist.gather(diffprog.tensor([float(r)]), gathered, group=backwards, group_dst=0)
    out["group_dst_gather"] = [t.item() for t in gathered] if r == 1 else None
    try:
        dist.send(diffprog.zeros(1), dst=r)
    except ValueError as e:
        out["send_to_self"] = str(e)
    try:
        dist.broadcast(x, src=0, group_src=0)
    except ValueError as e:
        out["src_and_group_src"] = str(e)
    dist.barrier()
    return out


def ddp_equals_union(r, n):
    """Each rank trains on its contiguous shard; the test trains one process on all."""
    x, y = data()
    diffprog.manual_seed(1 + r)                  # different replicas: DDP broadcasts rank 0's
    model = DDP(mlp(), bucket_cap_mb=0.01)
    opt = diffprog.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    k = len(x) // n
    for _ in range(3):
        opt.zero_grad()
        loss_fn(model, x[r * k:(r + 1) * k], y[r * k:(r + 1) * k]).backward()
        opt.step()
    return {"params": flat(model.module), "buckets": len(model._bucket_list),
            "keys": list(model.state_dict())[:2]}


def train_union(steps=3):
    """What ddp_equals_union's ranks must end with: rank 0's model trained on all the data."""
    x, y = data()
    diffprog.manual_seed(1)
    model = mlp()
    opt = diffprog.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model, x, y).backward()
        opt.step()
    return flat(model)


def ddp_no_sync(r, n):
    """Two micro-batches a rank, the first under no_sync: the step uses the average over
    ranks of the accumulated gradients."""
    x, y = data()
    diffprog.manual_seed(1)
    model = DDP(mlp())
    opt = diffprog.optim.SGD(model.parameters(), lr=0.1)
    a, b = slice(8 * r, 8 * r + 4), slice(8 * r + 4, 8 * r + 8)
    with model.no_sync():
        loss_fn(model, x[a], y[a]).backward()
    local = [p.grad.reshape(-1).tolist() for p in model.parameters()]
    loss_fn(model, x[b], y[b]).backward()
    opt.step()
    return {"local": local, "params": flat(model.module)}


def train_no_sync_union():
    x, y = data()
    diffprog.manual_seed(1)
    model = mlp()
    opt = diffprog.optim.SGD(model.parameters(), lr=0.1)
    batches = [slice(k, k + 4) for k in range(0, 16, 4)]
    (sum(loss_fn(model, x[s], y[s]) for s in batches) / 2).backward()
    opt.step()
    return flat(model)


class Branches(nn.Module):
    """Rank r uses branch r only; branch 'c' is never used."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(3, 1), nn.Linear(3, 1), nn.Linear(3, 1)

    def forward(self, x, which):
        return (self.a if which == 0 else self.b)(x)


def ddp_unused(r, n):
    diffprog.manual_seed(2)
    x = diffprog.ones(2, 3) * (r + 1)
    model = DDP(Branches().double(), find_unused_parameters=True)
    model(x.double(), r).sum().backward()
    out = {"grads": {name: None if p.grad is None else p.grad.reshape(-1).tolist()
                     for name, p in model.module.named_parameters()}}
    strict = DDP(Branches().double())
    strict(x.double(), r).sum().backward()
    try:
        strict(x.double(), r)
    except RuntimeError as e:
        out["strict_error"] = str(e)
    return out


class Recorder(nn.Module):
    """An MLP whose first activation records, when its gradient arrives in backward, how
    many gradient buckets DistributedDataParallel has already started reducing."""

    def __init__(self):
        super().__init__()
        self.net = mlp()
        self.seen = []
        self.ddp = None

    def forward(self, x):
        h = self.net[0](x)
        h.register_hook(lambda g: self.seen.append(self.ddp._next))
        return self.net[4](self.net[3](self.net[2](self.net[1](h))))


def ddp_overlap(r, n):
    x, y = data()
    inner = Recorder()
    model = DDP(inner, bucket_cap_mb=0.01)
    inner.ddp = model
    loss_fn(model, x, y).backward()
    return {"launched_before_first_layer": inner.seen, "buckets": len(model._bucket_list)}


class WithBuffer(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.register_buffer("stat", diffprog.tensor([value]))

    def forward(self, x):
        return self.lin(x)


def ddp_buffers(r, n):
    model = DDP(WithBuffer(float(r)))
    at_wrap = model.module.stat.tolist()
    model.module.stat.fill_(5.0 + r)
    with diffprog.no_grad():
        model(diffprog.ones(1, 2))
    no_grad = model.module.stat.tolist()
    model(diffprog.ones(1, 2))
    return {"at_wrap": at_wrap, "no_grad_forward": no_grad, "forward": model.module.stat.tolist()}


def sampler(r, n):
    s = DistributedSampler(range(11), seed=3)
    s.set_epoch(2)
    return {"indices": list(s), "num_replicas": s.num_replicas, "rank": s.rank}


def trial_checkpoint(r, n, folder):
    """Trial with checkpoints under DDP: 2 epochs in one go, and 1 epoch + resume + 1."""
    from diffprog.train import Trial
    from diffprog.train.callbacks import Interval
    x, y = data()
    dataset = TensorDataset(x, y)

    def make():
        diffprog.manual_seed(3)
        model = DDP(mlp())
        opt = diffprog.optim.SGD(model.parameters(), lr=0.2)
        train = DataLoader(dataset, batch_size=4, sampler=DistributedSampler(dataset, seed=5))
        val = DataLoader(dataset, batch_size=4, sampler=DistributedSampler(dataset, shuffle=False))
        ck = Interval(os.path.join(folder, f"rank{r}", "ck.{epoch}.pt"))
        return Trial(model, opt, nn.CrossEntropyLoss(), metrics=["loss"], callbacks=[ck],
                     verbose=0).with_generators(train, val).to(F64)

    full = make()
    history = full.run(2)
    make().run(1)
    dist.barrier()                               # rank 0's checkpoint is on disk
    resumed = make()
    resumed.load_state_dict(diffprog.load(os.path.join(folder, "rank0", "ck.0.pt")))
    resumed_history = resumed.run(2)
    with diffprog.no_grad():
        final_val_loss = loss_fn(full.state[diffprog.train.state.MODEL].module, x, y).item()
    return {"history": history, "resumed_history": resumed_history,
            "full": flat(full.state[diffprog.train.state.MODEL].module),
            "resumed": flat(resumed.state[diffprog.train.state.MODEL].module),
            "final_val_loss": final_val_loss, "folders": sorted(os.listdir(folder)),
            "files": sorted(os.listdir(os.path.join(folder, "rank0"))) if r == 0 else None}


# SyncBatchNorm: rank 0 holds 5 of the 8 samples, rank 1 the other 3
SYNC_SHARDS = (slice(0, 5), slice(5, 8))


def sync_bn_data():
    """x, the weights c of the loss sum(c * bn(x)), a JVP tangent v, and the layer's weight and bias."""
    g = diffprog.Generator().manual_seed(4)
    x, c, v = (diffprog.randn(8, 3, 2, generator=g, dtype=F64) * 2 + 1 for _ in range(3))
    return x, c, v, diffprog.randn(3, generator=g, dtype=F64), diffprog.randn(3, generator=g, dtype=F64)


def bn_results(make_bn, x, c, v):
    """Output, first and second derivatives, JVP and running statistics of a batch-norm
    layer from `make_bn(track_running_stats)` on x."""
    bn = make_bn(True)
    x = x.clone().requires_grad_()
    y = bn(x)
    gx, gw, gb = diffprog.autograd.grad((c * y).sum(), [x, bn.weight, bn.bias], create_graph=True)
    ggx, ggw = diffprog.autograd.grad((gx * gx).sum(), [x, bn.weight])
    bn(x.detach() * 0.5 - 1)                      # a second step of the running statistics
    plain = make_bn(False)
    _, tangent = diffprog.func.jvp(plain, (x.detach(),), (v,))
    return {"y": y, "gx": gx, "ggx": ggx, "jvp": tangent, "gw": gw, "gb": gb, "ggw": ggw,
            "running_mean": bn.running_mean, "running_var": bn.running_var,
            "num_batches_tracked": bn.num_batches_tracked}


def bn_layer(cls, w, b):
    def make(track):
        bn = cls(3, momentum=0.3, track_running_stats=track).double()
        with diffprog.no_grad():
            bn.weight.copy_(w)
            bn.bias.copy_(b)
        return bn
    return make


def sync_batch_norm(r, n):
    """Each rank its shard: outputs, input gradients (of the sum of both ranks' losses) and
    JVPs are the shard's part of one process's; the ranks' parameter gradients add up to
    one process's; the running statistics are one process's, on every rank."""
    x, c, v, w, b = sync_bn_data()
    s = SYNC_SHARDS[r]
    out = bn_results(bn_layer(nn.SyncBatchNorm, w, b), x[s], c[s], v[s])
    for local in ("gw", "gb", "ggw"):
        dist.all_reduce(out[local])
    out = {k: t.detach().tolist() for k, t in out.items()}
    bn = nn.SyncBatchNorm(3).double().eval()      # evaluation: the running statistics, no messages
    bn.running_mean.fill_(float(r))
    out["eval"] = bn(x[s]).tolist()
    return out


def sync_bn_model():
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 2)).double()


def sync_bn_data_ddp():
    g = diffprog.Generator().manual_seed(6)
    return diffprog.randn(16, 4, generator=g, dtype=F64), diffprog.randn(16, 2, generator=g, dtype=F64)


def ddp_sync_batch_norm(r, n):
    """DDP over a model converted to SyncBatchNorm, each rank on its half: three steps
    equal one process with BatchNorm on all the data."""
    x, y = sync_bn_data_ddp()
    diffprog.manual_seed(8)
    model = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(sync_bn_model()))
    opt = diffprog.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    s = slice(8 * r, 8 * r + 8)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x[s]), y[s]).backward()
        opt.step()
    model.eval()
    return {"params": flat(model.module), "type": type(model.module[1]).__name__,
            "buffers": [t.tolist() for t in model.module[1].buffers()],
            "eval": model(x[s]).tolist()}


def train_sync_bn_union():
    """What ddp_sync_batch_norm's ranks must end with."""
    x, y = sync_bn_data_ddp()
    diffprog.manual_seed(8)
    model = sync_bn_model()
    opt = diffprog.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    model.eval()
    return {"params": flat(model), "buffers": [t.tolist() for t in model[1].buffers()],
            "eval": model(x).tolist()}


def launcher_env(r, n):
    keys = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
            "MASTER_PORT", "OMP_NUM_THREADS", "TORCHELASTIC_RUN_ID")
    return {"env": {k: os.environ.get(k) for k in keys}, "argv": sys.argv,
            "launched": dist.is_torchelastic_launched(), "backend": dist.get_backend()}


def main(out):
    dist.init_process_group("mpi")
    r, n = dist.get_rank(), dist.get_world_size()
    results = {}
    for check in (launcher_env, collectives, scatter_and_exchange, ddp_equals_union, ddp_no_sync,
                  ddp_unused, ddp_overlap, ddp_buffers, sampler, sync_batch_norm,
                  ddp_sync_batch_norm):
        results[check.__name__] = check(r, n)
    results["trial_checkpoint"] = trial_checkpoint(r, n, os.path.join(out, "trial"))
    dist.destroy_process_group()
    results["destroyed"] = not dist.is_initialized()
    with open(os.path.join(out, f"rank{r}.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
