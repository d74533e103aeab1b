"""The code a job runs is the code its record names: each job imports the package of the checkout
the workflow run digested, whatever else is installed or first on PYTHONPATH, and stops when its
rule's code changed after the run digested it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.runs import RES, edit, env_for, private_checkout, snakemake
from helpers.stores import weights


def test_require_checkout_names_both_locations(tmp_path):
    import infofrag
    from infofrag.errors import IntegrityError
    from infofrag.provenance.checkout import require_checkout

    require_checkout(infofrag, Path(infofrag.__file__).resolve().parent.parent)
    with pytest.raises(IntegrityError, match=f"{tmp_path}.*{Path(infofrag.__file__).resolve().parent}"):
        require_checkout(infofrag, tmp_path)


def test_a_job_refuses_the_package_of_another_run_or_changed_code(tmp_path):
    from infofrag.errors import IntegrityError
    from infofrag.provenance import code_digest
    from infofrag.provenance.checkout import CHECKOUT, check_job_code, file_stamps

    digest = code_digest(CHECKOUT / "scripts" / "fingerprint.py")
    handed = {"package_dir": str(CHECKOUT / "infofrag"), "stamps": file_stamps(), "unused_modules": []}
    check_job_code(handed, "fingerprint", digest)  # the same package, unchanged
    with pytest.raises(IntegrityError, match="digested the package at /elsewhere/infofrag"):
        check_job_code({**handed, "package_dir": "/elsewhere/infofrag"}, "fingerprint", digest)
    stale = {**handed, "stamps": {**handed["stamps"], "infofrag/measures.py": [0, 0]}}
    check_job_code(stale, "fingerprint", digest)  # a file touched, not changed: same digest
    with pytest.raises(IntegrityError, match="its code changed after the workflow run started"):
        check_job_code(stale, "fingerprint", "0" * 16)


def _other_copies(tmp_path, root) -> str:
    """A non-editable install of the package (pip install --target) and another checkout's
    package, both put before everything else on PYTHONPATH."""
    site = tmp_path / "installed"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                           str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    other = tmp_path / "other-checkout"
    other.mkdir()
    subprocess.run(["cp", "-r", str(root / "infofrag"), str(other / "infofrag")], check=True)
    return os.pathsep.join([str(site), str(other)])


@pytest.mark.slow
def test_jobs_run_the_checkouts_code_whatever_is_on_the_path(run_copy, tmp_path, frozen_root):
    """The beta-VAE loss edited in the checkout, another copy of the package installed and another
    checkout's on PYTHONPATH ahead of it: the retrained weights follow the edited code (the logged
    loss is recon + 10 beta KL), and the records name the checkout's package."""
    work = run_copy
    root = private_checkout(tmp_path)
    others = _other_copies(tmp_path, frozen_root)
    edit(root / "infofrag" / "models" / "vae.py", "        total = recon + beta * kl.sum()\n",
         "        total = recon + 10.0 * beta * kl.sum()\n")
    env = env_for(root, PYTHONPATH=others + os.pathsep + str(root))
    target = f"{RES}/members/b4_s0/model.pt"
    before = weights(work / target)
    snakemake(work, "--cores", "1", target, root=root, env=env)
    after = weights(work / target)
    assert any(not np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)
    rows = (work / RES / "members" / "b4_s0" / "train_log.csv").read_text().splitlines()
    head = rows[0].split(",")
    last = dict(zip(head, rows[-1].split(",")))
    kl = float(last["kl_total"])  # the sum of the per-channel kl_<c> columns
    assert float(last["loss"]) == pytest.approx(float(last["recon"]) + 10.0 * 4.0 * kl, rel=1e-4), last
    rec = json.loads((work / (target + ".prov.json")).read_text())
    assert rec["code"]["package_path"] == "infofrag"
