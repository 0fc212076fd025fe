"""Time the same workload on diffprog and PyTorch in one process and print the ratio.

Both sides run with the same number of threads (each library's `set_num_threads`),
alternately, round after round, so that a busy machine slows both alike; we report the
median time per call of each side.
"""
import json
import os
import statistics
import subprocess
import sys
import time


def pin_threads(n):
    """Give both sides n threads (`set_num_threads`: NumPy's BLAS pool, PyTorch's intra-op
    pool); return a description."""
    import diffprog
    diffprog.set_num_threads(n)
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    return f"{n} thread(s)"


def add_threads_option(parser):
    """--threads 1,2 (the default): the benches run once per BLAS thread count."""
    parser.add_argument("--threads", default="1,2", type=lambda v: [int(n) for n in v.split(",")],
                        help="comma-separated BLAS thread counts (default 1,2)")


def _time(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def compare(name, dp_fn, torch_fn, number=100, rounds=7, unit="us"):
    """Median seconds per call for each side, alternating; prints one table row."""
    scale = {"us": 1e6, "ms": 1e3}[unit]
    dp_fn(), torch_fn()                                    # warm up
    dp_t, th_t = [], []
    for _ in range(rounds):
        dp_t.append(_time(dp_fn, number))
        th_t.append(_time(torch_fn, number))
    d, t = statistics.median(dp_t), statistics.median(th_t)
    print(f"{name:<44s} diffprog {d * scale:9.1f} {unit}   torch {t * scale:9.1f} {unit}   "
          f"ratio {d / t:5.2f}x", flush=True)
    return d, t


def trainer(lib, model, lr=1e-3):
    """A function doing one Adam step of `model` on a batch (x, y) with cross entropy (the
    output's last dimension holds the classes: (N, C), or (N, T, C) for token sequences)."""
    opt = lib.optim.Adam(model.parameters(), lr=lr)

    def step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = lib.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    return step


# --- peak memory: each side in a fresh subprocess -----------------------------------------

def proc_status_mib(field):
    """VmRSS (resident now) or VmHWM (peak since start or last reset) of this process."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(side, threads, prepare):
    """Run in the subprocess: import `side` ("diffprog" or "torch"), call prepare(lib) (data,
    model; it returns the work as a function), reset the peak, run the work, and print the
    memory figures (MiB) as JSON.

    Peak resident memory is read from /proc/self/status (VmHWM), not getrusage: a child
    started by vfork + exec inherits its parent's ru_maxrss."""
    import numpy  # noqa: F401  (not pin_threads: it would import torch into the diffprog side)
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads)
    lib = __import__(side)
    if side == "torch":
        lib.set_num_threads(threads)
    imports = proc_status_mib("VmRSS")
    lib.manual_seed(0)
    work = prepare(lib)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                    # reset VmHWM to the current RSS
    before = proc_status_mib("VmRSS")
    work()
    print(json.dumps({"imports": imports, "before": before, "peak": proc_status_mib("VmHWM")}))


def peak_memory(script, child_args, what):
    """Run `script --memory-child SIDE *child_args` for both sides; print the table rows."""
    if not os.path.exists("/proc/self/status"):
        print("peak memory skipped: needs Linux's /proc/self/status")
        return
    result = {}
    for side in ("diffprog", "torch"):
        out = subprocess.run([sys.executable, script, "--memory-child", side] + list(child_args),
                             capture_output=True, text=True, check=True)
        result[side] = json.loads(out.stdout.strip().splitlines()[-1])
    d, t = result["diffprog"], result["torch"]
    rows = [(f"peak RSS, {what}", d["peak"], t["peak"]),
            ("  of which the work's own growth", d["peak"] - d["before"], t["peak"] - t["before"]),
            ("  RSS after importing the library", d["imports"], t["imports"])]
    for name, dv, tv in rows:
        print(f"{name:<44s} diffprog {dv:7.1f} MiB   torch {tv:7.1f} MiB   ratio {dv / tv:5.2f}x")
