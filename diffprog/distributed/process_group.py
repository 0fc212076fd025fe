"""Process groups: which processes take part in a collective, and the MPI communicator they
share.

The ranks meet through MPI (mpi4py): `mpiexec` (started by `python -m
diffprog.distributed.run`, or directly) gives each process its rank and the world's size,
so `init_process_group` has no rendezvous of its own to do; it checks that the torchrun
variables (RANK, WORLD_SIZE), if set, agree with MPI. mpi4py is imported (and MPI
initialised) at the first `init_process_group`, not at `import diffprog.distributed`.
"""
import enum
import importlib.util
import os

__all__ = ["Backend", "ReduceOp", "ProcessGroup", "GroupMember", "group", "init_process_group",
           "destroy_process_group", "is_available", "is_initialized", "is_mpi_available",
           "is_gloo_available", "is_nccl_available", "is_torchelastic_launched", "get_rank",
           "get_world_size", "get_backend", "get_global_rank", "get_group_rank", "new_group"]


class Backend(str):
    """The name of a communication backend. diffprog has one, MPI; "gloo" (PyTorch's CPU
    backend) is accepted and runs on MPI, so scripts written for it run unchanged."""

    UNDEFINED, GLOO, NCCL, MPI = "undefined", "gloo", "nccl", "mpi"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        name = name.lower().removeprefix("cpu:")
        if name == cls.NCCL:
            raise RuntimeError("Backend 'nccl' needs CUDA GPUs, which diffprog does not use; "
                               "init_process_group(backend='mpi') (or 'gloo') runs on the CPU")
        if name not in (cls.MPI, cls.GLOO):
            raise ValueError(f"Invalid backend: {name!r}: diffprog.distributed has 'mpi' "
                             "(and accepts 'gloo', run on MPI)")
        return super().__new__(cls, name)


class ReduceOp(enum.Enum):
    """How all_reduce and reduce combine the ranks' tensors."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


def mpi():
    """mpi4py's MPI module (MPI is initialised at its first import)."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError("diffprog.distributed needs mpi4py and an MPI runtime: "
                           "pip install 'diffprog[distributed]' (mpi4py and MPICH from PyPI)") from e
    return MPI


class ProcessGroup:
    """A set of ranks with their own MPI communicator (`comm`; None on a process outside
    the group). `ranks` are the members' global ranks, in group-rank order."""

    def __init__(self, comm, ranks):
        self.comm, self.ranks = comm, list(ranks)

    def rank(self):
        return self.comm.Get_rank() if self.comm is not None else -1

    def size(self):
        return len(self.ranks)

    def name(self):
        return Backend.MPI

    def __repr__(self):
        return f"ProcessGroup(backend='mpi', ranks={self.ranks})"


class GroupMember:
    """`GroupMember.WORLD` (also `group.WORLD`): the default group, None before
    init_process_group."""
    WORLD = None


group = GroupMember           # torch.distributed.group.WORLD


def is_available():
    """True when mpi4py can be imported (it brings the collectives' MPI bindings)."""
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


def is_gloo_available():
    return False


def is_nccl_available():
    return False


def is_torchelastic_launched():
    """Was this process started by the launcher (`python -m diffprog.distributed.run`)?"""
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def is_initialized():
    return GroupMember.WORLD is not None


def _env_int(name):
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"init_process_group: environment variable {name}={value!r} is not an "
                         "integer") from None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the default process group: every process that MPI started. `rank` and
    `world_size` (or the environment's RANK and WORLD_SIZE, as torchrun sets them) must
    agree with MPI's. `init_method` and `timeout` are accepted and unused: MPI has already
    brought the ranks together, and its collectives do not time out."""
    if is_initialized():
        raise ValueError("trying to initialize the default process group twice!")
    if backend is not None:
        Backend(backend)
    if store is not None:
        raise ValueError("init_process_group: diffprog.distributed has no Store; the ranks meet "
                         "through mpiexec (start them with python -m diffprog.distributed.run)")
    world = mpi().COMM_WORLD
    expected = {"world_size": world_size if world_size != -1 else _env_int("WORLD_SIZE"),
                "rank": rank if rank != -1 else _env_int("RANK")}
    actual = {"world_size": world.Get_size(), "rank": world.Get_rank()}
    for key, want in expected.items():
        if want is not None and want != actual[key]:
            raise RuntimeError(
                f"init_process_group: {key} is {want} (argument or environment), but MPI started "
                f"this process as {key} {actual[key]} of a world of {actual['world_size']}: start "
                f"the ranks with python -m diffprog.distributed.run --nproc-per-node N script.py "
                f"(or mpiexec -n N)")
    GroupMember.WORLD = ProcessGroup(world.Dup(), range(world.Get_size()))


def destroy_process_group(group=None):
    """Leave `group` (default: the default group, after which init_process_group may be
    called again). MPI itself stays initialised until the process exits."""
    pg = GroupMember.WORLD if group is None else group
    if pg is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    if pg.comm is not None:
        pg.comm.Free()
        pg.comm = None
    if group is None or group is GroupMember.WORLD:
        GroupMember.WORLD = None


def resolve(group, op="collective"):
    """The ProcessGroup a collective runs on (the default one for None); errors name `op`."""
    pg = GroupMember.WORLD if group is None else group
    if GroupMember.WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    if not isinstance(pg, ProcessGroup):
        raise TypeError(f"{op}: group must be a ProcessGroup from new_group(), got {type(pg).__name__}")
    if pg.comm is None:
        raise RuntimeError(f"{op}: this process (rank {get_rank()}) is not a member of {pg}")
    return pg


def get_rank(group=None):
    """This process's rank in `group` (-1 when it is not a member)."""
    pg = GroupMember.WORLD if group is None else group
    if GroupMember.WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return pg.rank()


def get_world_size(group=None):
    pg = resolve(group, "get_world_size") if group is None else group
    return pg.size()


def get_backend(group=None):
    resolve(group, "get_backend")
    return Backend.MPI


def get_global_rank(group, group_rank):
    """The global rank of the member `group_rank` of `group`."""
    if not 0 <= group_rank < group.size():
        raise ValueError(f"get_global_rank: group rank {group_rank} is not part of {group}")
    return group.ranks[group_rank]


def get_group_rank(group, global_rank):
    """The rank in `group` of the process with global rank `global_rank`."""
    if global_rank not in group.ranks:
        raise ValueError(f"get_group_rank: global rank {global_rank} is not part of {group}")
    return group.ranks.index(global_rank)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None, sort_ranks=True):
    """A group of the given global ranks (all of them by default; group rank i is the
    i-th of them, sorted unless sort_ranks=False). As in PyTorch, every process of the
    default group must call it, members or not."""
    world = resolve(None, "new_group")
    ranks = list(range(world.size())) if ranks is None else list(ranks)
    ranks = sorted(ranks) if sort_ranks else ranks
    bad = [r for r in ranks if not 0 <= r < world.size()]
    if bad or len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks {ranks} must be distinct global ranks in "
                         f"[0, {world.size()})")
    comm = world.comm.Create(world.comm.Get_group().Incl(ranks))
    if comm == mpi().COMM_NULL:
        comm = None
    return ProcessGroup(comm, ranks)
