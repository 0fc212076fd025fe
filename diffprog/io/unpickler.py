"""A pickle interpreter that builds data and runs none of the pickle's code.

Python's unpickler calls whatever a pickle names; this one reads the opcodes of every
protocol (0 to 5) itself.  The data opcodes (numbers, strings, bytes, lists, tuples, dicts,
sets, the memo, marks, framing) build plain Python values.  Only five reach further, each
through what the caller allows:

    GLOBAL, STACK_GLOBAL  `allowed[(module, name)]`; any other global is refused
    REDUCE, NEWOBJ        call an allowed global (nothing else on the stack is callable)
    BUILD                 `build(obj, state)`, which refuses what it does not expect
    PERSID, BINPERSID     `persistent_load(pid)`

INST, OBJ, NEWOBJ_EX, the extension registry (EXT1/2/4) and out-of-band buffers are
refused.  Memory stays proportional to the pickle's size: every length read from the
pickle is checked against the bytes left before anything is read, and the containers it
builds, and what the allowed calls return, are charged their size (`sys.getsizeof`)
against a budget of `MAX_GROWTH` times the pickle's size plus 1 MiB (an empty set costs
216 bytes but takes 2 bytes to pickle).  Refusals raise `pickle.UnpicklingError`; malformed pickles raise
`CorruptFileError`.
"""
import codecs
import collections
import pickle
import struct
import sys

from .safetensors_format import CorruptFileError

__all__ = ["Unpickler", "MAX_GROWTH", "brief"]

MAX_GROWTH = 32
_OPS = {}           # opcode byte -> (name, handler)


def _op(name):
    def register(fn):
        _OPS[getattr(pickle, name)[0]] = (name, fn)
        return fn
    return register


_REFUSED = {getattr(pickle, name)[0]: name for name in
            ("INST", "OBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER", "READONLY_BUFFER")}


class _Stop(Exception):
    pass


def brief(obj):
    """A short description of a value a pickle built, for error messages: a repr could be
    of a huge container, or of a tensor viewing a few elements as billions."""
    if isinstance(obj, (str, bytes)):
        return repr(obj[:40]) + ("..." if len(obj) > 40 else "")
    if obj is None or isinstance(obj, (bool, float)) or (isinstance(obj, int) and obj.bit_length() < 64):
        return repr(obj)
    if type(obj) is tuple:
        items = [brief(x) for x in obj[:6]] + (["..."] if len(obj) > 6 else [])
        return "(" + ", ".join(items) + ("," if len(obj) == 1 else "") + ")"
    return type(obj).__name__


class Unpickler:
    """Reads one pickle from the binary stream `f`, of which `size` bytes may be read.

    `allowed` maps (module, name) to what the global stands for; `callables` lists those
    that REDUCE and NEWOBJ may call; `build(obj, state)` applies BUILD; `persistent_load`
    resolves persistent ids.  Python 2 strings are decoded with `encoding`.  `who` starts
    every error message."""

    def __init__(self, f, size, allowed, callables, build, persistent_load, who, encoding="utf-8"):
        self.f, self.left, self.size = f, size, size
        self.allowed, self.build, self.persistent_load, self.who = allowed, build, persistent_load, who
        self.encoding = encoding
        self.callables = {id(c): c for c in callables}
        self.stack, self.marks, self.memo = [], [], {}
        self.budget = MAX_GROWTH * size + 2**20

    def load(self):
        while True:
            start = self.size - self.left
            code = self.read(1)[0]
            if code in _REFUSED:
                raise pickle.UnpicklingError(
                    f"{self.who}: refusing the pickle opcode {_REFUSED[code]} (at byte {start}): it "
                    "creates objects by calling code, which loading never does")
            if code not in _OPS:
                raise self.corrupt(f"unknown opcode {bytes([code])!r} at byte {start}")
            name, handler = _OPS[code]
            try:
                handler(self)
            except _Stop:
                return self.stack.pop() if self.stack else self.fail(name, start, "empty stack")
            except (IndexError, KeyError, TypeError, ValueError, OverflowError, struct.error) as e:
                self.fail(name, start, f"{type(e).__name__}: {e}")

    # --- reading ---------------------------------------------------------------------

    def corrupt(self, reason):
        return CorruptFileError(f"{self.who}: not a valid pickle ({reason})")

    def fail(self, name, start, reason):
        raise self.corrupt(f"bad {name} at byte {start}: {reason}"[:300])

    def read(self, n):
        if n > self.left:
            raise self.corrupt(f"truncated: {n} bytes needed at byte {self.size - self.left}, "
                               f"{self.left} left")
        data = self.f.read(n)
        if len(data) < n:
            raise self.corrupt(f"truncated at byte {self.size - self.left + len(data)}")
        self.left -= n
        return data

    def readline(self):
        line = self.f.readline(self.left)
        self.left -= len(line)
        if not line.endswith(b"\n"):
            raise self.corrupt("truncated inside a text opcode")
        return line[:-1]

    def unpack(self, fmt):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def pop_mark(self):
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def push(self, value):
        self.stack.append(value)

    def made(self, obj, before=0):
        """obj, after charging what it takes (beyond `before` bytes) against the budget."""
        self.budget -= sys.getsizeof(obj) - before
        if self.budget < 0:
            raise self.corrupt(f"it builds objects of more than {MAX_GROWTH} times its size")
        return obj

    # --- framing, marks, memo --------------------------------------------------------

    @_op("PROTO")
    def _proto(self):
        if self.read(1)[0] > pickle.HIGHEST_PROTOCOL:
            raise ValueError("unsupported protocol")

    @_op("FRAME")
    def _frame(self):
        if self.unpack("<Q") > self.left:   # frames only group opcodes: reading on suffices
            raise self.corrupt("truncated: a frame reaches past the end")

    @_op("STOP")
    def _stop(self):
        raise _Stop

    @_op("MARK")
    def _mark(self):
        self.marks.append(self.stack)
        self.stack = []

    @_op("POP")
    def _pop(self):
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    @_op("POP_MARK")
    def _pop_mark(self):
        self.pop_mark()

    @_op("DUP")
    def _dup(self):
        self.push(self.stack[-1])

    @_op("PUT")
    def _put(self):
        self.memo[int(self.readline())] = self.stack[-1]

    @_op("BINPUT")
    def _binput(self):
        self.memo[self.read(1)[0]] = self.stack[-1]

    @_op("LONG_BINPUT")
    def _long_binput(self):
        self.memo[self.unpack("<I")] = self.stack[-1]

    @_op("MEMOIZE")
    def _memoize(self):
        self.memo[len(self.memo)] = self.stack[-1]

    @_op("GET")
    def _get(self):
        self.push(self.memo[int(self.readline())])

    @_op("BINGET")
    def _binget(self):
        self.push(self.memo[self.read(1)[0]])

    @_op("LONG_BINGET")
    def _long_binget(self):
        self.push(self.memo[self.unpack("<I")])

    # --- numbers and strings ---------------------------------------------------------

    @_op("NONE")
    def _none(self):
        self.push(None)

    @_op("NEWTRUE")
    def _true(self):
        self.push(True)

    @_op("NEWFALSE")
    def _false(self):
        self.push(False)

    @_op("INT")
    def _int(self):
        line = self.readline()
        self.push({b"00": False, b"01": True}[line] if line in (b"00", b"01") else int(line))

    @_op("LONG")
    def _long(self):
        self.push(int(self.readline().rstrip(b"L")))

    @_op("BININT")
    def _binint(self):
        self.push(self.unpack("<i"))

    @_op("BININT1")
    def _binint1(self):
        self.push(self.read(1)[0])

    @_op("BININT2")
    def _binint2(self):
        self.push(self.unpack("<H"))

    @_op("LONG1")
    def _long1(self):
        self.push(int.from_bytes(self.read(self.read(1)[0]), "little", signed=True))

    @_op("LONG4")
    def _long4(self):
        n = self.unpack("<i")
        if n < 0:
            raise ValueError("negative length")
        self.push(int.from_bytes(self.read(n), "little", signed=True))

    @_op("FLOAT")
    def _float(self):
        self.push(float(self.readline()))

    @_op("BINFLOAT")
    def _binfloat(self):
        self.push(self.unpack(">d"))

    @_op("STRING")
    def _string(self):
        line = self.readline()
        if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
            raise ValueError("the STRING opcode argument must be quoted")
        self.push(codecs.escape_decode(line[1:-1])[0].decode(self.encoding))

    @_op("BINSTRING")
    def _binstring(self):
        self.push(self.read(self.unpack("<I")).decode(self.encoding))

    @_op("SHORT_BINSTRING")
    def _short_binstring(self):
        self.push(self.read(self.read(1)[0]).decode(self.encoding))

    @_op("UNICODE")
    def _unicode(self):
        self.push(str(self.readline(), "raw-unicode-escape"))

    @_op("BINUNICODE")
    def _binunicode(self):
        self.push(str(self.read(self.unpack("<I")), "utf-8", "surrogatepass"))

    @_op("SHORT_BINUNICODE")
    def _short_binunicode(self):
        self.push(str(self.read(self.read(1)[0]), "utf-8", "surrogatepass"))

    @_op("BINUNICODE8")
    def _binunicode8(self):
        self.push(str(self.read(self.unpack("<Q")), "utf-8", "surrogatepass"))

    @_op("BINBYTES")
    def _binbytes(self):
        self.push(self.read(self.unpack("<I")))

    @_op("SHORT_BINBYTES")
    def _short_binbytes(self):
        self.push(self.read(self.read(1)[0]))

    @_op("BINBYTES8")
    def _binbytes8(self):
        self.push(self.read(self.unpack("<Q")))

    @_op("BYTEARRAY8")
    def _bytearray8(self):
        self.push(bytearray(self.read(self.unpack("<Q"))))

    # --- containers ------------------------------------------------------------------

    @_op("EMPTY_TUPLE")
    def _empty_tuple(self):
        self.push(())

    @_op("TUPLE")
    def _tuple(self):
        self.push(self.made(tuple(self.pop_mark())))

    @_op("TUPLE1")
    def _tuple1(self):
        self.stack[-1] = self.made((self.stack[-1],))

    @_op("TUPLE2")
    def _tuple2(self):
        b, a = self.stack.pop(), self.stack.pop()
        self.push(self.made((a, b)))

    @_op("TUPLE3")
    def _tuple3(self):
        c, b, a = self.stack.pop(), self.stack.pop(), self.stack.pop()
        self.push(self.made((a, b, c)))

    @_op("EMPTY_LIST")
    def _empty_list(self):
        self.push(self.made([]))

    @_op("LIST")
    def _list(self):
        self.push(self.made(self.pop_mark()))

    @_op("APPEND")
    def _append(self):
        item = self.stack.pop()
        self.grow(list, lambda t: t.append(item))

    @_op("APPENDS")
    def _appends(self):
        items = self.pop_mark()
        self.grow(list, lambda t: t.extend(items))

    @_op("EMPTY_DICT")
    def _empty_dict(self):
        self.push(self.made({}))

    @_op("DICT")
    def _dict(self):
        items = self.pop_mark()
        self.push(self.made(dict(self.pairs(items))))

    @_op("SETITEM")
    def _setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self.grow((dict, collections.OrderedDict), lambda t: t.__setitem__(key, value))

    @_op("SETITEMS")
    def _setitems(self):
        items = self.pop_mark()
        self.grow((dict, collections.OrderedDict), lambda t: t.update(self.pairs(items)))

    @_op("EMPTY_SET")
    def _empty_set(self):
        self.push(self.made(set()))

    @_op("ADDITEMS")
    def _additems(self):
        items = self.pop_mark()
        self.grow(set, lambda t: t.update(items))

    @_op("FROZENSET")
    def _frozenset(self):
        self.push(self.made(frozenset(self.pop_mark())))

    def pairs(self, items):
        if len(items) % 2:
            raise ValueError("an odd number of items for a dict")
        return zip(items[::2], items[1::2])

    def grow(self, types, add):
        """add(container) to the container on top of the stack, which APPEND, SETITEM, ... may
        only change when it is one this pickle built (globals are never containers)."""
        obj = self.stack[-1]
        types = types if isinstance(types, tuple) else (types,)
        if type(obj) not in types:
            raise TypeError(f"expected {' or '.join(t.__name__ for t in types)} below the items, "
                            f"got {type(obj).__name__}")
        before = sys.getsizeof(obj)
        add(obj)
        self.made(obj, before)

    # --- the opcodes that reach beyond data --------------------------------------------

    @_op("GLOBAL")
    def _global(self):
        module, name = self.readline(), self.readline()
        self.push(self.find_class(module.decode("utf-8"), name.decode("utf-8")))

    @_op("STACK_GLOBAL")
    def _stack_global(self):
        name, module = self.stack.pop(), self.stack.pop()
        if type(module) is not str or type(name) is not str:
            raise TypeError("STACK_GLOBAL needs a module and a name as strings")
        self.push(self.find_class(module, name))

    def find_class(self, module, name):
        if not all(part.isidentifier() for part in f"{module}.{name}".split(".")):
            raise ValueError(f"{brief(module)} {brief(name)} is not a global's name")
        try:
            return self.allowed[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{self.who}: refusing to unpickle the global {module}.{name}: it is not one "
                "of the few this loader allows") from None

    @_op("REDUCE")
    def _reduce(self):
        args = self.stack.pop()
        func = self.checked(self.stack[-1], args, "REDUCE")
        self.stack[-1] = self.made(func(*args))

    @_op("NEWOBJ")
    def _newobj(self):
        args, cls = self.stack.pop(), self.stack.pop()
        cls = self.checked(cls, args, "NEWOBJ")
        if not isinstance(cls, type):
            raise TypeError(f"NEWOBJ needs a class, got {type(cls).__name__}")
        self.push(self.made(cls.__new__(cls, *args)))

    def checked(self, fn, args, opcode):
        """fn, when it is an allowed global that may be called with the tuple args."""
        if self.callables.get(id(fn)) is not fn:
            raise pickle.UnpicklingError(f"{self.who}: refusing {opcode} on {brief(fn)}: only "
                                         "allowed globals may be called")
        if type(args) is not tuple:
            raise TypeError(f"{opcode} needs its arguments as a tuple, got {type(args).__name__}")
        return fn

    @_op("BUILD")
    def _build(self):
        state = self.stack.pop()
        self.build(self.stack[-1], state)

    @_op("PERSID")
    def _persid(self):
        self.push(self.persistent_load(self.readline().decode("ascii")))

    @_op("BINPERSID")
    def _binpersid(self):
        self.push(self.persistent_load(self.stack.pop()))
