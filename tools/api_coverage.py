"""Which PyTorch / torchvision / Torchbearer names public example code uses, and which of
them diffprog provides.

    python tools/api_coverage.py --mirrors /work/.mirror [--missing 30] [--json out.json]

The corpus is the example code of the repositories in `CORPUS`, read from their git mirrors
`MIRRORS/owner+name/repo` (a repository without a mirror is skipped, and the run says so),
plus any `--source DIR` of .py / .ipynb files. A file that imports none of torch,
torchvision and torchbearer counts for nothing.

How names are counted (static, per file, with Python's `ast`):
- Imports of torch, torchvision and torchbearer bind local names to qualified names
  (`import torch.nn as nn`, `from torch.nn import functional as F`, `from torchbearer
  import Trial`). Every reference through such a name (`nn.Conv2d`, `F.relu`, `Trial`)
  is one use of the qualified name, cut after the first component past the module
  boundary (`torch.nn.Module.__init__` counts as `torch.nn.Module`). Module boundaries
  come from the installed package where there is one (PyTorch), otherwise from the rule
  that a lower-case component followed by another is a module (torchvision, torchbearer).
- Every module a file imports counts once per import statement (namespace `modules`);
  it must import through the shim.
- Tensor methods and attributes: an attribute `e.name` (loaded or stored) where `name` is
  a public attribute of `torch.Tensor`, except where (a) `e` is `self` or `cls`, (b) the
  expression `e` starts at a non-torch import (`np.zeros(3).sum()`), or (c) `name` is also
  an attribute of Python's built-in str, list, dict, set, tuple, int or float (`split`,
  `values`, `sort`, ...: in scripts these are mostly container calls; they are listed as
  excluded). The static count cannot know a receiver's type, so it over-counts names shared
  with NumPy arrays and nn.Module (`to`, `float`, `sum`); diffprog has to provide those on
  its Tensor all the same.

A name is provided when it resolves in diffprog: its module through `diffprog.compat`
(on a diffprog without the shim, by the plain prefix rule torch -> diffprog, torchvision ->
diffprog.vision, torchbearer -> diffprog.train), then the name with getattr; a Tensor
attribute when `diffprog.Tensor` has it.
"""
import argparse
import ast
import collections
import importlib
import importlib.util
import json
import os
import subprocess
import sys

ROOTS = ("torch", "torchvision", "torchbearer")

# (repository, folders whose .py / .ipynb files are example code; () for all)
CORPUS = [
    ("pytorch/examples", ()),
    ("yunjey/pytorch-tutorial", ("tutorials",)),
    ("pytorchbearer/torchbearer", ("docs/_static",)),
    ("ecs-vlc/COMP6248", ("docs/labs",)),
    ("udacity/deep-learning-v2-pytorch", ()),
    ("MorvanZhou/PyTorch-Tutorial", ("tutorial-contents/",)),
    ("patrickloeber/pytorchTutorial", ()),
    ("karpathy/minGPT", ("mingpt", "projects", "demo.ipynb", "generate.ipynb")),
    ("karpathy/nanoGPT", ()),
]
SKIP_PARTS = ("cpp/", "docs/source/conf.py", "docs/conf.py", ".ipynb_checkpoints/", "keras/",
              "tensorflow/")

# The namespaces reported on their own; any other module is counted under its own name.
GROUPS = [("Tensor", lambda m: m == "Tensor"),
          ("torch", lambda m: m == "torch"),
          ("torch.nn", lambda m: m == "torch.nn" or m.startswith("torch.nn.modules")),
          ("torch.nn.functional", lambda m: m == "torch.nn.functional"),
          ("torch.utils.data", lambda m: m.startswith("torch.utils.data")),
          ("torchvision", lambda m: m.split(".")[0] == "torchvision"),
          ("torchbearer", lambda m: m.split(".")[0] == "torchbearer")]
HEADLINE = [g for g, _ in GROUPS]
# Reported, and left out of the third figure: not in diffprog by design (fx,
# multiprocessing), or, for torch.distributed, not when docs/compat.md's figures were
# measured (diffprog.distributed came after; the figures have not been measured again).
OUT_OF_REACH = ("torch.distributed", "torch.fx", "torch.multiprocessing")


# --- reading the corpus ---------------------------------------------------------------

def read_mirror(gitdir, folders):
    """{path: text} of the .py / .ipynb files under `folders` at the mirror's HEAD."""
    names = subprocess.run(["git", f"--git-dir={gitdir}", "ls-tree", "-r", "--name-only", "HEAD"],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    names = [n for n in names if n.endswith((".py", ".ipynb"))
             and (not folders or n.startswith(folders)) and not any(s in n for s in SKIP_PARTS)]
    out, absent = {}, 0
    for n in names:
        r = subprocess.run(["git", f"--git-dir={gitdir}", "show", f"HEAD:{n}"], capture_output=True)
        if r.returncode:           # a mirror may list its largest files without their content
            absent += 1
            continue
        out[n] = r.stdout.decode("utf-8", "replace")
    head = subprocess.run(["git", f"--git-dir={gitdir}", "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    return out, f"{head}" + (f", {absent} files absent from the mirror" if absent else "")


def read_dir(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith((".py", ".ipynb")):
                p = os.path.join(dirpath, f)
                with open(p, encoding="utf-8", errors="replace") as fh:
                    out[os.path.relpath(p, root)] = fh.read()
    return out


def code_chunks(path, text):
    """The Python source of a file: the file itself, or a notebook's code cells one by one
    (IPython's `%magic` and `!shell` syntax turned into Python by IPython when it is
    installed, otherwise those lines replaced by `pass`)."""
    if not path.endswith(".ipynb"):
        return [text]
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        to_python = TransformerManager().transform_cell
    except ImportError:
        def to_python(src):
            return "\n".join(ln[:len(ln) - len(ln.lstrip())] + "pass"
                             if ln.lstrip().startswith(("%", "!")) else ln for ln in src.split("\n"))
    chunks = []
    for c in json.loads(text).get("cells", []):
        if c.get("cell_type") == "code":
            chunks.append(to_python("".join(c["source"]) if isinstance(c["source"], list) else c["source"]))
    return chunks


# --- module boundaries ------------------------------------------------------------------

_is_module_cache = {}


def is_module(name):
    """Is the dotted name a module of its package (installed PyTorch, or the rule above)?"""
    if name in _is_module_cache:
        return _is_module_cache[name]
    root = name.split(".")[0]
    result = False
    if root == "torch":
        try:
            result = importlib.util.find_spec(name) is not None
        except (ImportError, AttributeError, ValueError):
            result = False
    _is_module_cache[name] = result
    return result


def split_name(parts):
    """('torch', 'nn', 'functional', 'relu', ...) -> ('torch.nn.functional', 'relu'); the
    name is None when the chain is the module itself."""
    root = parts[0]
    k = 1
    if root == "torch":
        while k < len(parts) and is_module(".".join(parts[:k + 1])):
            k += 1
    else:
        while k < len(parts) - 1 and parts[k].islower() and parts[k].isidentifier():
            k += 1
    module = ".".join(parts[:k])
    return module, (parts[k] if k < len(parts) else None)


# --- counting ---------------------------------------------------------------------------

def _builtin_attrs():
    names = set()
    for t in (str, list, dict, set, tuple, int, float):
        names.update(n for n in dir(t) if not n.startswith("_"))
    return names


class Counter(ast.NodeVisitor):
    def __init__(self, tensor_attrs, ambiguous):
        self.aliases = {}            # local name -> qualified torch name
        self.foreign = set()         # local names bound to other imports (np, plt, ...)
        self.uses = collections.Counter()     # (namespace module, name)
        self.modules = collections.Counter()  # imported modules
        self.excluded = collections.Counter()
        self.tensor_attrs, self.ambiguous = tensor_attrs, ambiguous

    def visit_Import(self, node):
        for a in node.names:
            root = a.name.split(".")[0]
            if root in ROOTS:
                self.modules[a.name] += 1
                if a.asname:
                    self.aliases[a.asname] = a.name
                else:
                    self.aliases[root] = root
            else:
                self.foreign.add(a.asname or root)

    def visit_ImportFrom(self, node):
        mod = node.module or ""
        if node.level or mod.split(".")[0] not in ROOTS:
            for a in node.names:
                self.foreign.add(a.asname or a.name)
            return
        self.modules[mod] += 1
        for a in node.names:
            if a.name == "*":
                continue
            full = f"{mod}.{a.name}"
            self.aliases[a.asname or a.name] = full
            module, name = split_name(full.split("."))
            if name is None:
                self.modules[full] += 1

    def _chain(self, node):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.aliases:
            return self.aliases[node.id].split(".") + parts[::-1]
        return None

    def _record(self, parts):
        module, name = split_name(parts)
        if name is not None:
            self.uses[(module, name)] += 1

    def visit_Name(self, node):
        if node.id in self.aliases:
            self._record(self.aliases[node.id].split("."))

    def visit_Attribute(self, node):
        parts = self._chain(node)
        if parts is not None:
            self._record(parts)
            return
        if node.attr in self.tensor_attrs and not self._skip_receiver(node.value):
            if node.attr in self.ambiguous:
                self.excluded[node.attr] += 1
            else:
                self.uses[("Tensor", node.attr)] += 1
        self.generic_visit(node)

    def _skip_receiver(self, e):
        if isinstance(e, ast.Name) and e.id in ("self", "cls"):
            return True
        while True:
            if isinstance(e, (ast.Attribute, ast.Subscript)):
                e = e.value
            elif isinstance(e, ast.Call):
                e = e.func
            else:
                break
        return isinstance(e, ast.Name) and e.id in self.foreign


def count(files, tensor_attrs, ambiguous):
    uses, modules, excluded = collections.Counter(), collections.Counter(), collections.Counter()
    unparsed = 0
    for path, text in files.items():
        c = Counter(tensor_attrs, ambiguous)
        for chunk in code_chunks(path, text):
            try:
                tree = ast.parse(chunk)
            except SyntaxError:
                unparsed += 1
                continue
            c.visit(tree)
        if not c.modules:          # no torch, torchvision or torchbearer import
            continue
        uses.update(c.uses)
        modules.update(c.modules)
        excluded.update(c.excluded)
    return uses, modules, excluded, unparsed


# --- what diffprog provides ----------------------------------------------------------------

def _resolve_module(name):
    try:
        from diffprog import compat
    except ImportError:       # a diffprog from before the shim: the plain prefix rule
        prefix = {"torch": "diffprog", "torchvision": "diffprog.vision",
                  "torchbearer": "diffprog.train"}
        root, _, rest = name.partition(".")
        return importlib.import_module(prefix[root] + ("." + rest if rest else ""))
    return compat.resolve(name)


def provided(module, name):
    import diffprog
    if module == "Tensor":
        return hasattr(diffprog.Tensor, name)
    try:
        mod = _resolve_module(module)
    except ImportError:
        return False
    if name is None:
        return True
    if hasattr(mod, name):
        return True
    try:                      # a submodule not imported by its package
        _resolve_module(f"{module}.{name}")
        return True
    except ImportError:
        return False


SURFACE = ["Tensor", "torch", "torch.nn", "torch.nn.functional", "torch.utils.data", "torch.autograd",
           "torch.optim", "torch.linalg", "torch.fft", "torch.special", "torch.distributions"]


def surface(torch):
    """For each of SURFACE: (public names of the installed PyTorch module, how many diffprog
    has). Public: no leading underscore, not a module, and defined by torch (not `Optional`)."""
    import types
    rows = {}
    for ns in SURFACE:
        obj = torch.Tensor if ns == "Tensor" else importlib.import_module(ns)
        names = []
        for n in dir(obj):
            if n.startswith("_"):
                continue
            v = getattr(obj, n, None)
            if isinstance(v, types.ModuleType):
                continue
            owner = getattr(v, "__module__", None)
            if ns != "Tensor" and isinstance(owner, str) and not owner.startswith("torch"):
                continue
            names.append(n)
        have = [n for n in names if provided(ns, n)]
        rows[ns] = (len(names), len(have))
    return rows


def group_of(module):
    for g, pred in GROUPS:
        if pred(module):
            return g
    return module


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirrors", help="folder holding the fetched mirrors (owner+name/repo)")
    ap.add_argument("--source", action="append", default=[], help="extra folder of .py/.ipynb")
    ap.add_argument("--missing", type=int, default=25, help="how many missing names to list")
    ap.add_argument("--json", help="write the counts and results here")
    args = ap.parse_args(argv)

    import torch  # the reference: Tensor's attributes and torch's module layout
    tensor_attrs = {n for n in dir(torch.Tensor) if not n.startswith("_")}
    ambiguous = tensor_attrs & _builtin_attrs()

    sources = []
    for repo, folders in CORPUS:
        gitdir = os.path.join(args.mirrors or "", repo.replace("/", "+"), "repo")
        if args.mirrors and os.path.isdir(gitdir):
            files, head = read_mirror(gitdir, folders)
            sources.append((f"{repo}@{head}", files))
        else:
            print(f"skipped {repo}: no mirror under {args.mirrors}")
    for d in args.source:
        sources.append((d, read_dir(d)))

    uses, modules, excluded = collections.Counter(), collections.Counter(), collections.Counter()
    for label, files in sources:
        u, m, e, bad = count(files, tensor_attrs, ambiguous)
        print(f"corpus: {label}: {len(files)} files, {sum(u.values())} uses"
              + (f" ({bad} notebook cells / files not parsed)" if bad else ""))
        uses.update(u)
        modules.update(m)
        excluded.update(e)
    for m, n in modules.items():
        uses[("modules", m)] = n

    results = {}
    for (module, name), n in uses.items():
        if module == "modules":
            ok = provided(name, None)
        else:
            ok = provided(module, name)
        results[(module, name)] = (n, ok)

    table = collections.defaultdict(lambda: [0, 0, 0, 0])   # names, names ok, uses, uses ok
    for (module, name), (n, ok) in results.items():
        row = table["modules" if module == "modules" else group_of(module)]
        row[0] += 1
        row[1] += ok
        row[2] += n
        row[3] += n * ok

    def pct(a, b):
        return f"{100 * a / b:5.1f}%" if b else "   - "

    order = HEADLINE + ["modules"] + sorted(set(table) - set(HEADLINE) - {"modules"},
                                            key=lambda g: -table[g][2])
    print(f"\n{'namespace':28s} {'names':>6s} {'have':>6s} {'names%':>7s} {'uses':>7s} "
          f"{'have':>7s} {'uses%':>7s}")
    for g in order:
        if g in table:
            a, b, c, d = table[g]
            print(f"{g:28s} {a:6d} {b:6d} {pct(b, a):>7s} {c:7d} {d:7d} {pct(d, c):>7s}")
    for label, groups in (("headline (the namespaces above the line)", HEADLINE),
                          ("every namespace, modules included", list(table))):
        c = sum(table[g][2] for g in groups if g in table)
        d = sum(table[g][3] for g in groups if g in table)
        print(f"usage-weighted, {label}: {pct(d, c).strip()} of {c} uses")
    reach = [(n, ok) for (m, name), (n, ok) in results.items()
             if not (name if m == "modules" else m).startswith(OUT_OF_REACH)]
    c, d = sum(n for n, _ in reach), sum(n for n, ok in reach if ok)
    print(f"usage-weighted, every namespace but {', '.join(OUT_OF_REACH)}: {pct(d, c).strip()} "
          f"of {c} uses")
    print(f"Tensor names not counted (also attributes of Python built-ins): "
          f"{', '.join(f'{k} {v}' for k, v in excluded.most_common())}")

    print(f"\nAPI surface: public names of the installed PyTorch {torch.__version__} module "
          f"that diffprog has (unweighted)")
    for ns, (n, have) in surface(torch).items():
        print(f"  {ns:24s} {have:5d} of {n:5d}  {pct(have, n)}")

    missing = sorted(((n, m, name) for (m, name), (n, ok) in results.items() if not ok),
                     reverse=True)
    print(f"\nmost used missing names ({len(missing)} in all):")
    for n, m, name in missing[:args.missing]:
        print(f"  {n:5d}  {m}{'.' + name if m != 'modules' else ' ' + name}")

    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"sources": [s for s, _ in sources],
                       "table": {g: table[g] for g in order if g in table},
                       "names": [[m, name, n, ok] for (m, name), (n, ok) in sorted(results.items())]},
                      fh, indent=1)


if __name__ == "__main__":
    sys.exit(main())
