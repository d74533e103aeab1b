"""Make every rule script run this checkout's ``infofrag`` package, and check that it does.

Snakemake puts the script's own folder (scripts/) on the path of every job, in a venv, a conda
environment or on a cluster node alike; importing this module first moves the checkout to the
front of ``sys.path`` (ahead of an installed copy or another checkout on ``PYTHONPATH``), drops any
copy of the package already imported, and stops the job if Python still finds another one
(:func:`infofrag.provenance.checkout.require_checkout`).
"""
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(_ROOT)] + [p for p in sys.path if not (p and Path(p).resolve() == _ROOT)]
for _name in [m for m in sys.modules if m == "infofrag" or m.startswith("infofrag.")]:
    del sys.modules[_name]

import infofrag  # noqa: E402
from infofrag.provenance.checkout import require_checkout  # noqa: E402

require_checkout(infofrag, _ROOT)
