"""Replacing a file atomically: readers see the old file or the new one, never a partial one.

The new bytes go to a temporary file next to the target (`.<name>.<12 hex>.tmp`), are
fsynced, and the temporary is renamed over the target.  A writer holds an exclusive lock
on its temporary until the rename, so a temporary nobody holds a lock on was left by a
writer that crashed: each write first removes those of its target, and a crash leaves at
most one behind.  As PyTorch's `open(path, "wb")` does, a symlink is written through (its
target is replaced, the link stays) and an existing file keeps its permissions.
"""
import os
import re
import stat
import uuid

try:
    from fcntl import LOCK_EX, LOCK_NB, flock
except ImportError:         # Windows: an open file can be neither removed nor renamed
    flock = None

__all__ = ["write_atomically"]


def write_atomically(path, write):
    """Replace the file at `path` with what `write(binary_file)` writes."""
    path = os.path.realpath(path)
    directory, name = os.path.split(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    _remove_stale_temporaries(directory, name)
    tmp, fd = _create_temporary(directory, name)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
            if flock is not None:
                os.replace(tmp, path)        # still locked: no other writer takes it for stale
        if flock is None:
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:        # make the rename itself durable (not possible on every platform)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _create_temporary(directory, name):
    """A new temporary for `name`, open for writing and locked."""
    while True:
        tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        if flock is None:
            return tmp, fd
        flock(fd, LOCK_EX)
        if os.fstat(fd).st_nlink:       # not removed as stale in the instant before the lock
            return tmp, fd
        os.close(fd)


def _remove_stale_temporaries(directory, name):
    """Remove the temporaries of `name` that no writer holds a lock on."""
    pattern = re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{12}}\.tmp")
    for entry in os.listdir(directory):
        if not pattern.fullmatch(entry):
            continue
        path = os.path.join(directory, entry)
        try:
            if flock is None:
                os.unlink(path)                   # fails while its writer has it open
                continue
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            flock(fd, LOCK_EX | LOCK_NB)          # fails while its writer holds the lock
            os.unlink(path)
        except OSError:
            pass
        finally:
            os.close(fd)
