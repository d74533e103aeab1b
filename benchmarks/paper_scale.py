"""The paper's scale after training, on this machine: 300 members x 10 channels = 3,000 channels,
a fingerprint sample of N = 1,000 (arXiv:2405.21042), from posteriors to the report.

The same harness as ``benchmarks/zoo_scale.py`` (``benchmarks/_scale.py``: synthetic
posteriors-only members on the run's real sample, the dry run, the SLURM plan, check-config,
the timed run, each stage's floor measured after it), on one family of 300 members whose
channels are perturbed copies of shared fragments (x and y position, scale, shape, orientation,
a diagonal of position) or a mix of their own, a third of the rest collapsed. The floors are
measured on every channel (``--floor-fraction 1``).

    python benchmarks/paper_scale.py --out benchmarks/results/paper_scale.md     # ~10 min on 2 idle cores
    python benchmarks/paper_scale.py --seeds 30 --work /tmp/ps30                  # a quick look
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo_scale import main  # noqa: E402

if __name__ == "__main__":
    main(preset="paper", doc=__doc__, name="paper_scale.py")
