"""diffprog.distributed on 2 ranks over the loopback interface, started by the launcher:
collectives against values computed here, DistributedDataParallel against one process
training on the union of the shards, DistributedSampler against PyTorch's, Trial with
checkpoints, and the launcher's handling of a rank that fails. The 2-rank work is one job
(tests/distributed_job.py) whose ranks write what they saw; the tests read it.
"""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import diffprog
import diffprog.distributed as dist
import distributed_job
from diffprog.distributed import run
from diffprog.utils.data import DistributedSampler

HAVE_MPI = importlib.util.find_spec("mpi4py") is not None
try:
    MPIEXEC = run.find_mpiexec() if HAVE_MPI else None
except SystemExit:
    MPIEXEC = None
MPI_IMPL = run.mpi_impl(MPIEXEC) if MPIEXEC else None      # 'mpich' or 'openmpi'
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="needs mpi4py and mpiexec "
                                                       "(pip install 'diffprog[distributed]')")


def launch(args, cwd=None, timeout=120, ranks=("--nproc-per-node", "2")):
    """Run the launcher; (status, stdout, stderr, seconds). A job past `timeout` fails the
    test, and its processes (a session of their own) are killed."""
    start = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "diffprog.distributed.run", *ranks, *args],
                         cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        stdout, stderr = p.communicate()
        pytest.fail(f"the job did not end within {timeout} s:\n{stdout}{stderr}")
    return p.returncode, stdout, stderr, time.perf_counter() - start


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("job")
    status, stdout, stderr, _ = launch([distributed_job.__file__, str(out), "--flag"])
    assert status == 0, stdout + stderr
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


# --- the launcher's environment -------------------------------------------------------------

@needs_mpi
def test_launcher_sets_torchruns_environment(job):
    for r, seen in enumerate(job):
        env = seen["launcher_env"]["env"]
        assert env == {"RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2",
                       "LOCAL_WORLD_SIZE": "2", "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": "29500", "OMP_NUM_THREADS": "1", "TORCHELASTIC_RUN_ID": "none"}
        argv = seen["launcher_env"]["argv"]
        assert argv[0] == distributed_job.__file__ and argv[2:] == ["--flag"]
        assert seen["launcher_env"]["launched"] and seen["launcher_env"]["backend"] == "mpi"
        assert seen["destroyed"]


# --- collectives -------------------------------------------------------------------------

@needs_mpi
def test_all_reduce_ops(job):
    xs = [np.arange(4.0) + 2 * r + 1 for r in range(2)]
    expected = {"SUM": xs[0] + xs[1], "AVG": (xs[0] + xs[1]) / 2, "MAX": np.maximum(*xs),
                "MIN": np.minimum(*xs), "PRODUCT": xs[0] * xs[1]}
    for seen in job:
        c = seen["collectives"]
        for op, want in expected.items():
            assert c[f"all_reduce_{op}"] == want.tolist(), op
        assert c["all_reduce_int_BXOR"] == [3 ^ 4, 12 ^ 13]
        assert c["all_reduce_bool_SUM"] == [True, False]          # a logical or
        assert c["async"] == [True, [3.0, 3.0, 3.0], True, True]    # waited, in place, version bumped
        assert c["view"] == [[0.0, 3.0, 0.0, 0.0]] * 3              # a strided view, written back
        assert "AVG needs a floating point" in c["avg_int_error"]


@needs_mpi
def test_broadcast_reduce_gather_scatter(job):
    for r, seen in enumerate(job):
        c = seen["collectives"]
        assert c["broadcast"] == [2.0, 2.0]
        assert c["reduce"] == ([3.0, 3.0] if r == 1 else [1.0, 1.0])   # only dst gets the sum
        assert c["all_gather"] == [[0.0, 0.0], [1.0, 10.0]]
        assert c["all_gather_single"] == [0.0, 0.0, 1.0, 10.0]
        assert c["gather"] == ([[0.0, 0.0], [1.0, -1.0]] if r == 0 else None)
        assert c["scatter"] == [float(r), 100.0 + r]
        assert c["all_gather_object"] == [{"rank": 0, "name": "r0"}, {"rank": 1, "name": "r1"}]
        assert c["broadcast_object_list"] == ["from rank 0", 7]
        assert c["new_group"] == ([0, 1] if r == 1 else [-1, 1])
    assert job[1]["collectives"]["recv"] == [0, [4.0, 5.0]]
    assert job[1]["collectives"]["new_group_all_reduce"] == [2.0]


@needs_mpi
def test_reduce_scatter_all_to_all_and_batched_point_to_point(job):
    for i, seen in enumerate(job):
        c = seen["scatter_and_exchange"]
        # rank r's input_list[j] = (10 r + j, 1): rank i gets the sum over r of (10 r + i, 1)
        assert c["reduce_scatter"] == [10.0 + 2 * i, 2.0]
        assert c["reduce_scatter_avg_async"] == [True, [5.0 + i, 1.0]]
        # input arange(4) + 100 r: rank i gets the sum over r of its piece [2i, 2i + 2)
        assert c["reduce_scatter_single"] == [2.0 * (2 * i) + 100, 2.0 * (2 * i + 1) + 100]
        assert c["reduce_scatter_single_stacked_max"] == [2.0 * i + 100, 2.0 * i + 101]
        assert c["deprecated"] == ["FutureWarning", "FutureWarning"]
        assert c["all_gather_single"] == [[0, 0], [1, -1]]
        # from rank j: (i + 1 + j) copies of 10 j + i
        assert c["all_to_all"] == [[10.0 * j + i] * (i + 1 + j) for j in range(2)]
        assert "must divide by the world size 2" in c["all_to_all_single_error"]
        assert c["all_to_all_single_even"] == [2.0 * i, 2.0 * i + 1, 10 + 2.0 * i, 11 + 2.0 * i]
        assert c["batch_isend_irecv"] == [1.0 - i, 1.0 - i, 200_000 * (1.0 - i)]
        assert c["group_src"] == [1 - i, 1.0]          # group rank 0 is global rank 1
        assert c["send_to_self"].startswith("Invalid destination rank")
        assert "not both" in c["src_and_group_src"]
    rows = [[[0, 1]], [[2, 3], [4, 5]]], [[[100, 101], [102, 103], [104, 105]], [[106, 107]]]
    # rank i receives rank 0's rows for it, then rank 1's
    assert job[0]["scatter_and_exchange"]["all_to_all_single_uneven"] == rows[0][0] + rows[1][0]
    assert job[1]["scatter_and_exchange"]["all_to_all_single_uneven"] == rows[0][1] + rows[1][1]
    assert job[1]["scatter_and_exchange"]["group_dst_gather"] == [1.0, 0.0]   # in group order


# --- DistributedDataParallel --------------------------------------------------------------

def _close(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


@needs_mpi
def test_ddp_equals_one_process_on_the_union_of_the_shards(job):
    union = distributed_job.train_union()
    for seen in job:
        d = seen["ddp_equals_union"]
        assert d["buckets"] == 3 and d["keys"] == ["module.0.weight", "module.0.bias"]
        _close(d["params"], union)
    assert job[0]["ddp_equals_union"]["params"] == job[1]["ddp_equals_union"]["params"]


@needs_mpi
def test_ddp_no_sync_accumulates_locally_then_averages(job):
    union = distributed_job.train_no_sync_union()
    assert job[0]["ddp_no_sync"]["local"] != job[1]["ddp_no_sync"]["local"]   # no communication
    for seen in job:
        _close(seen["ddp_no_sync"]["params"], union)


@needs_mpi
def test_ddp_find_unused_parameters(job):
    # rank 0 uses branch a on x = 1, rank 1 branch b on x = 2, nobody branch c: the gradient
    # of sum(linear(x)) over 2 rows is 2x for the weight and 2 for the bias, averaged over 2
    for seen in job:
        u = seen["ddp_unused"]
        assert u["grads"] == {"a.weight": [1.0] * 3, "a.bias": [1.0], "b.weight": [2.0] * 3,
                              "b.bias": [1.0], "c.weight": None, "c.bias": None}
        assert "find_unused_parameters=True" in u["strict_error"]


@needs_mpi
def test_ddp_starts_reducing_before_backward_reaches_the_first_layer(job):
    for seen in job:
        o = seen["ddp_overlap"]
        assert o["buckets"] == 3 and o["launched_before_first_layer"][0] >= 1


@needs_mpi
def test_ddp_broadcasts_rank_zeros_buffers(job):
    for r, seen in enumerate(job):
        b = seen["ddp_buffers"]
        assert b["at_wrap"] == [0.0] and b["forward"] == [5.0]
        assert b["no_grad_forward"] == [5.0 + r]       # no broadcast without a backward to sync


# --- SyncBatchNorm ---------------------------------------------------------------------------

def _close_nested(a, b, rtol=1e-10):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol,
                               atol=1e-12)


@needs_mpi
def test_sync_batch_norm_equals_one_batch_norm_on_the_whole_batch(job):
    x, c, v, w, b = distributed_job.sync_bn_data()
    one = {k: t.detach() for k, t in distributed_job.bn_results(
        distributed_job.bn_layer(diffprog.nn.BatchNorm1d, w, b), x, c, v).items()}
    for r, seen in enumerate(job):
        got, s = seen["sync_batch_norm"], distributed_job.SYNC_SHARDS[r]
        for key in ("y", "gx", "ggx", "jvp"):            # this rank's rows of one process's
            _close_nested(got[key], one[key][s].tolist())
        for key in ("gw", "gb", "ggw", "running_mean", "running_var"):   # summed / the same
            _close_nested(got[key], one[key].tolist())
        assert got["num_batches_tracked"] == 2
        # evaluation: this rank's running mean (rank r filled it with r), no communication
        _close_nested(got["eval"], ((x[s] - r) / (1 + 1e-5) ** 0.5).tolist())


@needs_mpi
def test_sync_batch_norm_under_ddp_equals_one_process_on_all_the_data(job):
    union = distributed_job.train_sync_bn_union()
    for r, seen in enumerate(job):
        d = seen["ddp_sync_batch_norm"]
        assert d["type"] == "SyncBatchNorm"
        _close(d["params"], union["params"])
        for got, want in zip(d["buffers"], union["buffers"], strict=True):
            _close_nested(got, want)
        _close_nested(d["eval"], union["eval"][8 * r:8 * r + 8])


def test_sync_batch_norm_without_a_process_group_is_batch_norm():
    nn = diffprog.nn
    x = diffprog.randn(6, 3, 4, dtype=diffprog.float64, requires_grad=True)
    sync, plain = nn.SyncBatchNorm(3).double(), nn.BatchNorm1d(3).double()
    ys, yp = sync(x), plain(x)
    assert diffprog.equal(ys, yp) and diffprog.equal(sync.running_var, plain.running_var)
    gs, = diffprog.autograd.grad(ys.sum(), x)
    gp, = diffprog.autograd.grad(yp.sum(), x)
    assert diffprog.equal(gs, gp)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        sync(diffprog.ones(3))
    model = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3, momentum=None),
                          nn.Sequential(nn.BatchNorm1d(2, affine=False), nn.InstanceNorm2d(3)))
    model[2].eval()
    keys = list(model.state_dict())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model and [type(m).__name__ for m in model.modules()] == [
        "Sequential", "Conv2d", "SyncBatchNorm", "Sequential", "SyncBatchNorm", "InstanceNorm2d"]
    assert model[1].momentum is None and model[2][0].weight is None and not model[2][0].training
    assert list(model.state_dict()) == keys
    single = nn.BatchNorm1d(4)
    swapped = nn.SyncBatchNorm.convert_sync_batchnorm(single)
    assert isinstance(swapped, nn.SyncBatchNorm) and swapped.weight is single.weight
    assert swapped.running_mean is single.running_mean


def test_convert_sync_batchnorm_keeps_torchs_state_dict_keys():
    torch = pytest.importorskip("torch")
    nn = diffprog.nn
    ours = nn.SyncBatchNorm.convert_sync_batchnorm(
        nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3), nn.Sequential(nn.BatchNorm1d(2))))
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 1), torch.nn.BatchNorm2d(3),
        torch.nn.Sequential(torch.nn.BatchNorm1d(2))))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]


# --- DistributedSampler ---------------------------------------------------------------------

def test_distributed_sampler_order_equals_torchs():
    TorchSampler = pytest.importorskip("torch.utils.data").DistributedSampler
    for n in (0, 1, 5, 10, 11, 37):
        for replicas in (1, 2, 3, 4):
            for rank in range(replicas):
                for shuffle in (True, False):
                    for drop_last in (True, False):
                        for seed, epoch in ((0, 0), (7, 3), (2**33 + 5, 1)):
                            ours = DistributedSampler(range(n), replicas, rank, shuffle, seed, drop_last)
                            theirs = TorchSampler(range(n), replicas, rank, shuffle, seed, drop_last)
                            ours.set_epoch(epoch)
                            theirs.set_epoch(epoch)
                            assert list(ours) == list(theirs) and len(ours) == len(theirs), \
                                (n, replicas, rank, shuffle, drop_last, seed, epoch)
    big, theirs = DistributedSampler(range(50000), 3, 2, seed=11), TorchSampler(range(50000), 3, 2, seed=11)
    assert list(big) == list(theirs)


@needs_mpi
def test_distributed_sampler_takes_rank_and_size_from_the_group(job):
    TorchSampler = pytest.importorskip("torch.utils.data").DistributedSampler
    for r, seen in enumerate(job):
        theirs = TorchSampler(range(11), 2, r, seed=3)
        theirs.set_epoch(2)
        assert seen["sampler"] == {"indices": list(theirs), "num_replicas": 2, "rank": r}


def test_distributed_sampler_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


# --- Trial and checkpoints ------------------------------------------------------------------

@needs_mpi
def test_trial_with_checkpoints_under_ddp(job):
    t0, t1 = (seen["trial_checkpoint"] for seen in job)
    assert t0["folders"] == ["rank0"] and t0["files"] == ["ck.0.pt", "ck.1.pt"]   # rank 0 writes
    assert t0["history"] == t1["history"]           # metrics averaged over the ranks
    assert t0["full"] == t1["full"]
    # the validation loss is the mean over both ranks' halves: the loss on all the data
    assert t0["history"][-1]["val_loss"] == pytest.approx(t0["final_val_loss"], rel=1e-12)
    for t in (t0, t1):                              # 1 epoch + resume + 1 epoch = 2 epochs
        _close(t["resumed"], t["full"])
        assert [h["loss"] for h in t["resumed_history"]] == pytest.approx(
            [h["loss"] for h in t["history"]], rel=1e-12)


# --- failures ---------------------------------------------------------------------------------

@needs_mpi
def test_a_rank_that_raises_ends_the_job_naming_it(tmp_path):
    (tmp_path / "failing.py").write_text(textwrap.dedent("""
        import time
        import diffprog, diffprog.distributed as dist
        dist.init_process_group()
        if dist.get_rank() == 1:
            time.sleep(0.5)
            raise ValueError("rank one is broken")
        dist.all_reduce(diffprog.ones(3))          # rank 0 waits here for rank 1
    """))
    status, stdout, stderr, seconds = launch(["-m", "failing"], cwd=tmp_path, timeout=60)
    assert status == 1 and seconds < 30, (status, seconds, stderr)
    assert 'raise ValueError("rank one is broken")' in stderr          # the rank's traceback
    assert "first failure: rank 1 (local rank 1" in stderr
    assert "ValueError: rank one is broken" in stderr.splitlines()[-1]


@needs_mpi
def test_a_rank_exit_status_is_the_jobs(tmp_path):
    (tmp_path / "exits.py").write_text(textwrap.dedent("""
        import sys
        import diffprog.distributed as dist
        dist.init_process_group("gloo")
        if dist.get_rank() == 1:
            sys.exit(3)
        dist.barrier()
    """))
    status, _, stderr, seconds = launch([str(tmp_path / "exits.py")], timeout=60)
    assert status == 3 and seconds < 30, (status, seconds, stderr)
    assert "first failure: rank 1" in stderr and "exited with status 3" in stderr


@needs_mpi
def test_a_killed_rank_ends_the_job(tmp_path):
    (tmp_path / "killed.py").write_text(textwrap.dedent("""
        import os, signal, time
        import diffprog, diffprog.distributed as dist
        dist.init_process_group()
        if dist.get_rank() == 1:
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGKILL)
        dist.all_reduce(diffprog.ones(3))
    """))
    status, _, stderr, seconds = launch([str(tmp_path / "killed.py")], timeout=60)
    assert status != 0 and seconds < 30, (status, seconds, stderr)
    assert "no rank reported an error" in stderr and "rank 1 = pid" in stderr


@needs_mpi
def test_a_hostfile_job(tmp_path):
    # two "machines" that are both this one, their ranks forked instead of started over ssh
    # (MPICH is told so; Open MPI sees that both names are this machine)
    (tmp_path / "hosts").write_text("localhost\n127.0.0.1 slots=4\n")
    (tmp_path / "hello.py").write_text(textwrap.dedent("""
        import os, sys
        import diffprog, diffprog.distributed as dist
        dist.init_process_group()
        x = diffprog.tensor([1.0 + dist.get_rank()])
        dist.all_reduce(x)
        with open(os.path.join(sys.argv[1], "rank" + os.environ["RANK"]), "w") as f:
            f.write(f"{os.environ['WORLD_SIZE']} {x.item()}")
    """))
    status, stdout, stderr, _ = launch(
        ["--hostfile", str(tmp_path / "hosts"), "--mpi-args",
         "-launcher fork" if MPI_IMPL == "mpich" else "", str(tmp_path / "hello.py"), str(tmp_path)],
        timeout=60,
        ranks=("--nnodes", "2", "--nproc-per-node", "1"))
    assert status == 0, stderr
    assert [(tmp_path / f"rank{r}").read_text() for r in range(2)] == ["2 3.0", "2 3.0"]


# --- in one process: arguments and errors ----------------------------------------------------

def test_errors_before_init_process_group():
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(diffprog.ones(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        diffprog.nn.parallel.DistributedDataParallel(diffprog.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="needs CUDA"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("smoke-signals")
    assert dist.is_available() == HAVE_MPI


def test_torch_names_map_onto_diffprog():
    code = textwrap.dedent("""
        import diffprog, diffprog.compat
        diffprog.compat.install()
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel
        from torch.utils.data.distributed import DistributedSampler
        import torch.distributed.run
        print(dist is diffprog.distributed, DistributedDataParallel is
              diffprog.nn.parallel.DistributedDataParallel,
              DistributedSampler is diffprog.utils.data.DistributedSampler)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "True"], out.stderr


@needs_mpi
def test_launcher_command_lines(tmp_path):
    parse = run._parser().parse_args
    rank = [sys.executable, "-m", "diffprog.distributed._rank"]
    cmd, env = run.command(parse(["--nproc_per_node=2", "--mpi-impl", "mpich", "train.py", "--lr",
                                  "1"]), "/reports")
    assert cmd[:3] == [MPIEXEC, "-n", "2"] and cmd[3:7] == ["-launcher", "fork", "-iface", "lo"]
    assert cmd[7:] == rank + ["train.py", "--lr", "1"]
    assert env["WORLD_SIZE"] == "2" and env["MASTER_PORT"] == "29500"
    hosts = tmp_path / "hosts"
    hosts.write_text("# the cluster\nnode-a:8\nnode-b slots=8\nnode-c\n")
    multi = ["--nnodes", "2", "--nproc-per-node", "3", "--hostfile", str(hosts), "--rdzv-endpoint",
             "node-a:1234", "-m", "pkg.train"]
    cmd, env = run.command(parse(["--mpi-impl", "mpich"] + multi), "/r")
    assert cmd[1:7] == ["-n", "6", "-hosts", "node-a:3,node-b:3", "-ppn", "3"]
    assert cmd[-2:] == ["-m", "pkg.train"] and env["WORLD_SIZE"] == "6"
    assert (env["MASTER_ADDR"], env["MASTER_PORT"]) == ("node-a", "1234")
    # Open MPI: its own flags, and the launcher's variables forwarded to the other machines
    cmd, env = run.command(parse(["--mpi-impl", "openmpi", "--mpi-args", "--mca btl tcp,self"] +
                                 multi), "/r")
    flags = cmd[3:cmd.index(sys.executable)]
    assert cmd[1:3] == ["-n", "6"] and flags[:2] == ["--bind-to", "none"]
    assert flags[-7:] == ["--host", "node-a:3,node-b:3", "--map-by", "slot", "--mca", "btl",
                          "tcp,self"]
    exported = {flags[i + 1] for i, f in enumerate(flags) if f == "-x"}
    assert {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "TORCHELASTIC_RUN_ID",
            "DIFFPROG_RUN_REPORTS", "PATH"} <= exported
    assert ("--allow-run-as-root" in flags) == (os.geteuid() == 0)
    cmd, _ = run.command(parse(["--mpi-impl", "openmpi", "x.py"]), "/r")
    assert cmd[-6:-4] == ["btl_tcp_if_include", "lo"] and "--oversubscribe" in cmd
    for bad, message in ((["--nnodes", "2", "x.py"], "needs --hostfile"),
                         (["--nnodes", "1:4", "x.py"], "elastic"),
                         (["--node-rank", "1", "x.py"], "run the launcher once"),
                         (["--nnodes", "4", "--hostfile", str(hosts), "x.py"], "names 3 machine"),
                         (["--nproc-per-node", "0", "x.py"], "positive integer")):
        with pytest.raises(SystemExit, match=message):
            run.command(parse(bad), "/r")
