"""One rank of a job started by `python -m diffprog.distributed.run` (mpiexec runs this
module once per rank): it sets the variables torchrun gives each process, runs the user's
script or module as `__main__`, and when that fails (an exception, or an exit with a
non-zero status) it says which rank failed and ends the whole job with MPI_Abort, so that
ranks blocked in a collective do not wait for ever.

    python -m diffprog.distributed._rank [-m] script_or_module args...
"""
import json
import os
import runpy
import socket
import sys
import time
import traceback

# The launcher's folder for the ranks' reports (a pid file each, an error file on failure).
REPORTS = "DIFFPROG_RUN_REPORTS"


def _placement(world, MPI):
    """(local rank, local world size, node rank): nodes are numbered in the order of their
    lowest rank, as torchrun numbers them by --node-rank."""
    names = world.allgather(MPI.Get_processor_name())
    mine = names[world.Get_rank()]
    nodes = list(dict.fromkeys(names))
    return names[:world.Get_rank()].count(mine), names.count(mine), nodes.index(mine)


def _write_report(kind, record):
    folder = os.environ.get(REPORTS)
    if not folder:
        return
    try:       # on another machine the launcher's folder may not exist: the message suffices
        with open(os.path.join(folder, f"{kind}-{record['rank']}.json"), "w") as f:
            json.dump(record, f)
    except OSError:
        pass


def _user_frames(tb):
    """The traceback without this module's and runpy's frames."""
    ours = (__file__, runpy.__file__, "<frozen runpy>")
    while tb is not None and tb.tb_frame.f_code.co_filename in ours:
        tb = tb.tb_next
    return tb


def main(argv):
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    local_rank, local_size, node_rank = _placement(world, MPI)
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(size), "LOCAL_RANK": str(local_rank),
                       "LOCAL_WORLD_SIZE": str(local_size), "GROUP_RANK": str(node_rank),
                       "ROLE_RANK": str(rank), "ROLE_WORLD_SIZE": str(size), "ROLE_NAME": "default"})
    where = {"rank": rank, "local_rank": local_rank, "node_rank": node_rank,
             "host": socket.gethostname(), "pid": os.getpid()}
    _write_report("pid", where)

    module = argv[0] == "-m"
    target, args = (argv[1], argv[2:]) if module else (argv[0], argv[1:])
    sys.argv = [target, *args]
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path[0] = os.path.dirname(os.path.abspath(target))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        if e.code is None or e.code == 0:
            return
        if isinstance(e.code, int):
            code, error = e.code, f"exited with status {e.code}"
        else:
            print(e.code, file=sys.stderr)
            code, error = 1, f"exited with message {str(e.code)!r}"
        _fail(world, where, code, error, "")
    except BaseException as e:
        tb = "".join(traceback.format_exception(type(e), e, _user_frames(e.__traceback__)))
        sys.stderr.write(tb)
        _fail(world, where, 1, f"{type(e).__name__}: {e}", tb)


def _fail(world, where, code, error, tb):
    print(f"diffprog.distributed.run: rank {where['rank']} (local rank {where['local_rank']} on "
          f"{where['host']}) failed: {error}; ending the job", file=sys.stderr)
    _write_report("error", dict(where, exitcode=code, error=error, traceback=tb, time=time.time()))
    sys.stdout.flush()
    sys.stderr.flush()
    world.Abort(code)


if __name__ == "__main__":
    if len(sys.argv) < (3 if sys.argv[1:2] == ["-m"] else 2):
        sys.exit("usage: python -m diffprog.distributed._rank [-m] script_or_module args...")
    main(sys.argv[1:])
