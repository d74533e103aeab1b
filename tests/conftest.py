"""Fixtures shared by the whole suite. Builders live in ``tests/helpers``."""
import contextlib
import fcntl
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tests share 2 cores with each other and with Snakemake jobs: keep torch to one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from helpers import runs  # noqa: E402

#: Files whose runs take minutes (`--durations`), collected first: `make test` runs the suite on
#: two pytest-xdist processes, a file at a time each, and starting the longest files first lets
#: the two end together instead of one finishing a long file alone. Order only; nothing skipped.
LONGEST_FIRST = ("test_slurm.py", "test_imported.py", "test_train.py", "test_faults.py",
                 "test_bad_input.py", "test_trust.py", "test_bring_your_own.py", "test_circle_workflow.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: in-file order kept


@pytest.fixture
def root():
    return ROOT


@pytest.fixture
def one_torch_thread():
    """Run the test with one torch thread (small models: threads only add overhead and noise)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _session_dir(tmp_path_factory) -> Path:
    """The folder every process of this pytest session shares: the root of the session's temporary
    folders, above pytest-xdist's per-worker ones (each worker is a session of its own)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def _exclusive(path: Path):
    """Hold an exclusive lock on ``path`` (one process of the session builds, the others wait)."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def frozen_root(tmp_path_factory) -> Path:
    """The session's snapshot of the checkout, which every workflow run of the suite uses
    (helpers.runs.code_root); one for all of the session's processes."""
    shared = _session_dir(tmp_path_factory)
    with _exclusive(shared / "frozen-checkout.lock"):
        return runs.freeze(shared / "frozen-checkout")


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, frozen_root) -> Path:
    """One completed run of config/test.yaml, shared by every workflow-level test of the session,
    in all of its processes (built by the first to need it, while the others wait). Read it; to
    change anything, take ``run_copy``."""
    shared = _session_dir(tmp_path_factory)
    with _exclusive(shared / "finished-run.lock"):
        return runs.finished_run(shared / "finished-run")


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    """A private copy of the finished run, free to tamper with."""
    return runs.copy_run(finished_run, tmp_path / "w")
