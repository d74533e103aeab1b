import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tests share 2 cores with each other and with Snakemake jobs: keep torch to one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")


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
