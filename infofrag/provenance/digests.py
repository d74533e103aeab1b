"""Digests: of files and directory trees (what a result is), and of code (what produced it).

The code digest of a rule script is taken over the script and every ``infofrag`` module it
imports, directly or through other modules (imports inside functions included), with each
module digested as its syntax tree without docstrings: a comment, a docstring or a reflowed line
changes nothing, a changed statement changes the digest. Modules that only keep the books
(provenance records, atomic writes, job glue, error classes) are left out: they never change a
number, and a change to them must not retrain an ensemble.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
from pathlib import Path

from ..errors import IntegrityError

#: files that are not content: Snakemake stamps every directory() output after its job ends
TREE_IGNORE = frozenset({".snakemake_timestamp"})
PACKAGE = "infofrag"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: modules that decide no result (see the module docstring); not followed, not digested
BOOKKEEPING = frozenset({"infofrag.provenance", "infofrag.workflow", "infofrag.atomic",
                         "infofrag.errors"})


def sha256_file(path: str | Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def digest_path(path: str | Path) -> str:
    """sha256 of a file, or of a directory tree (relative paths and file contents, sorted)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise IntegrityError(f"'{path}' does not exist")
    h = hashlib.sha256()
    for parts, full in tree_files(path):
        h.update("/".join(parts).encode() + b"\0")
        h.update(sha256_file(full).encode() + b"\n")
    return h.hexdigest()


def tree_files(path: str | Path) -> list[tuple[tuple[str, ...], str]]:
    """The files of a directory tree (symlinks to files included, symlinked directories not
    entered, :data:`TREE_IGNORE` left out) as ``(relative path's parts, full path)``, in the
    order of the parts: what ``sorted(path.rglob("*"))`` lists, by one ``os.walk`` (a job checks
    hundreds of stores of a dozen files each; pathlib's globbing cost it more than the hashing)."""
    out = []
    root = os.fspath(path)
    for top, _, files in os.walk(root):
        rel = os.path.relpath(top, root)
        base = () if rel == os.curdir else tuple(rel.split(os.sep))
        for name in files:
            full = os.path.join(top, name)
            if name not in TREE_IGNORE and os.path.isfile(full):
                out.append((base + (name,), full))
    out.sort()
    return out


# --------------------------------------------------------------------------- code

def _module_file(name: str) -> Path | None:
    """The source file of module ``infofrag.x.y`` in this checkout, or None."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    parts = name.split(".")[1:]
    base = PACKAGE_DIR.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Of one source file: (behaviour digest, infofrag modules it imports, packages whose
    ``__init__`` it runs only to reach a submodule, modules it names in strings: what
    ``importlib.import_module`` or a lazy attribute map would load)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    explicit: set[str] = set()
    implicit: set[str] = set()
    named: set[str] = set()
    name = _module_name(path)
    package = _package_of(name, path) if name else PACKAGE
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            explicit.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            implicit.add(mod)
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                explicit.add(sub if _module_file(sub) is not None else mod)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.startswith(PACKAGE + "."):
            named.add(node.value)

    def known(names):
        return tuple(sorted(m for m in names if _module_file(m) is not None))

    dump = ast.dump(_strip_docstrings(tree), annotate_fields=False, include_attributes=False)
    return (hashlib.sha256(dump.encode()).hexdigest(), known(explicit), known(implicit - explicit),
            known(named - explicit))


def syntax_digest(path: str | Path) -> str:
    """Digest of a Python file's syntax tree without docstrings (comments and layout do not count)."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    return hashlib.sha256(ast.dump(_strip_docstrings(tree), annotate_fields=False,
                                   include_attributes=False).encode()).hexdigest()


def _module_name(path: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(PACKAGE_DIR.parent)
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and parts[0] == PACKAGE else None


def _bookkeeping(name: str) -> bool:
    return any(name == b or name.startswith(b + ".") for b in BOOKKEEPING)


def code_closure(script: str | Path, exclude: frozenset = frozenset()) -> dict[str, Path]:
    """The ``infofrag`` modules that decide what ``script`` computes: name -> source file.

    A module imported by name brings what it imports and what it names in strings (lazy
    loading); a package whose ``__init__`` runs only on the way to one of its submodules brings
    what its import statements import, not what it could load lazily. Modules in ``exclude``
    (those a config cannot execute: :attr:`infofrag.keys.Keys.unused_modules`) are neither
    digested nor followed."""
    seen: dict[str, bool] = {}  # module -> its strings followed

    def visit(name: str, explicit: bool, stack: list) -> None:
        if _bookkeeping(name) or name in exclude or (name in seen and (seen[name] or not explicit)):
            return
        first = name not in seen
        seen[name] = explicit
        _, imports, inits, strings = _parse(_module_file(name))
        if first:
            parent = name.rpartition(".")[0]
            stack += [(m, False) for m in inits + ((parent,) if parent else ())]
            stack += [(m, True) for m in imports]
        if explicit:
            stack += [(m, True) for m in strings]

    _, imports, inits, strings = _parse(Path(script).resolve())
    stack = [(m, True) for m in imports + strings] + [(m, False) for m in inits]
    while stack:
        visit(*stack.pop(), stack)
    return {name: _module_file(name) for name in sorted(seen)}


def code_digest(script: str | Path, exclude: frozenset = frozenset()) -> str:
    """Digest of the behaviour of ``script`` and of every module in its :func:`code_closure`."""
    h = hashlib.sha256(_parse(Path(script).resolve())[0].encode())
    for name, path in code_closure(script, exclude).items():
        h.update(f"\0{name}\0{_parse(path)[0]}".encode())
    return h.hexdigest()[:16]


def package_digest() -> str:
    """Digest of the behaviour of the whole ``infofrag`` package (recorded in every record)."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(f"\0{path.relative_to(PACKAGE_DIR).as_posix()}\0{_parse(path)[0]}".encode())
    return h.hexdigest()[:16]
