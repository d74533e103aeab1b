"""Put this checkout's ``infofrag`` package first on ``sys.path``.

Snakemake puts the script's own folder (scripts/) on the path of every job, in a venv, a conda
environment or on a cluster node alike; importing this module first makes every rule script
use the package of the checkout it belongs to, installed or not.
"""
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
