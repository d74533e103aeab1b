"""Rules of the test suite itself, checked on its source: no test asserts a wall-clock time or a
throughput (cost belongs to the benchmarks; these machines are shared and noisy), and no test
module imports another (shared builders live in tests/helpers, fixtures in conftest.py)."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CLOCKS = {"time", "perf_counter", "monotonic", "process_time", "perf_counter_ns", "time_ns", "monotonic_ns"}


def _clock_call(node) -> bool:
    """A call of the time module's clocks (``time.perf_counter()``, ``perf_counter()``, ...)."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr in CLOCKS and isinstance(f.value, ast.Name) and f.value.id == "time"
    return isinstance(f, ast.Name) and f.id in CLOCKS - {"time"}


def _names(node) -> set:
    """Names and attribute paths (``x``, ``self.t0``) an expression reads or a target binds."""
    return {ast.unparse(n) for n in ast.walk(node) if isinstance(n, (ast.Name, ast.Attribute))}


def _bound(target) -> set:
    """What an assignment target binds: its names and attribute paths, not the objects they hang on."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_bound(t) for t in target.elts))
    return {ast.unparse(target)} if isinstance(target, (ast.Name, ast.Attribute)) else set()


def timed_assertions(source: str) -> list[int]:
    """Lines of ``assert`` statements that involve a clock reading: directly, or through names
    assigned (transitively) from expressions that read a clock."""
    tree = ast.parse(source)
    timed: set[str] = set()
    changed = True
    while changed:  # names that hold clock readings, or values computed from them
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                value = node.value
                if any(_clock_call(n) for n in ast.walk(value)) or _names(value) & timed:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for t in targets:
                        for n in _bound(t) - timed:
                            timed.add(n)
                            changed = True
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)
            and (any(_clock_call(n) for n in ast.walk(node.test)) or _names(node.test) & timed)]


def test_no_test_asserts_a_wall_clock_time():
    found = {p.name: lines for p in sorted(TESTS.rglob("*.py")) if (lines := timed_assertions(p.read_text()))}
    assert found == {}, f"assertions on wall-clock time (move them to a benchmark): {found}"


def test_the_check_finds_timed_assertions():
    """The check is not blind: direct and derived clock readings in an assert are found, a
    deadline loop (a safety net, not an assertion) is not."""
    src = ("import time\nt0 = time.perf_counter()\nwork()\nseconds = time.perf_counter() - t0\n"
           "rate = 100 / seconds\nassert rate > 5\nassert time.monotonic() - t0 < 3\n"
           "deadline = time.time() + 60\nwhile time.time() < deadline:\n    pass\nassert done\n")
    assert timed_assertions(src) == [6, 7]


def test_no_test_module_imports_another():
    bad = []
    for p in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{p.name}: {m}" for m in mods if m.split(".")[0].startswith("test_")]
    assert bad == [], bad
