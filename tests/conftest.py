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
