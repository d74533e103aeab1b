"""docs/bring-your-own.md's complete example, run as written: the files it shows, then its commands
(the console command `infofrag`, Snakemake on this checkout), from an empty folder."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.runs import ROOT, RUN_TIMEOUT, code_root, run_command

DOC = ROOT / "docs" / "bring-your-own.md"


def example(doc: Path = DOC) -> tuple[dict, list]:
    """The example's files ({path: text}, from code blocks whose first line is ``# file: PATH``)
    and its shell commands (the bash block), in the order the page gives them."""
    text = doc.read_text().split("## A complete example", 1)[1]
    files, commands = {}, []
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S):
        first, _, rest = body.partition("\n")
        m = re.match(r"# file: (\S+)", first)
        if m:
            files[m.group(1)] = rest
        elif lang == "bash":
            commands += [c for c in body.splitlines() if c.strip()]
    return files, commands


def test_the_page_holds_a_complete_example():
    files, commands = example()
    assert {"mymodels/tinyvae.py", "train_tiny.py", "my.yaml"} <= set(files)
    assert any("check-config" in c for c in commands) and any("snakemake" in c for c in commands)


@pytest.mark.slow
def test_the_worked_example_runs_as_written(tmp_path):
    files, commands = example()
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "mymodels" / "__init__.py").touch()
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"])
    env["PYTHONPATH"] = str(code_root()) + os.pathsep + env.get("PYTHONPATH", "")
    for command in commands:
        command = command.replace("/path/to/infofrag", str(code_root()))
        proc = run_command(["bash", "-c", command], cwd=tmp_path, env=env, timeout=RUN_TIMEOUT,
                           what=f"the example's `{command}`")
        assert proc.returncode == 0, f"`{command}` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    import xarray as xr

    res = tmp_path / "results"
    sim = xr.open_zarr(res / "similarity.zarr")
    members = list(sim["member_id"].values)
    assert members == ["b1_s0", "b1_s1", "pca", "tiny"], members  # trained first, imported by name
    info = dict(zip(sim["channel_id"].values, sim["info_bits"].values))
    # they carry information (the run's threshold is 0.01 bits; the first principal component of
    # 64 dSprites images, sigma 0.37 of its spread, tells them apart by about 0.7 bits)
    assert min(info[f"pca/{c}"] for c in range(2)) > 0.5 and max(info[f"tiny/{c}"] for c in range(3)) > 0.5, info
    assert list(sim["member_method"].values[2:]) == ["pca", "tiny"]  # each imported member its own group
    summary = (res / "summary" / "summary.html").read_text()
    # pca has no encoder: scored on the fingerprint sample (64 points: too few for scores), and said so
    assert re.search(r"<td>pca</td>.*?the fingerprint sample: too few points", summary, flags=re.S)


def test_python_m_infofrag_works_from_the_folder_above_a_clone_named_infofrag(tmp_path, root):
    """From the folder that holds the clone (named `infofrag`, as `git clone` names it), the clone's
    root would shadow the package as a namespace package; the installed package comes first (the
    editable install puts the checkout itself on the path), so the command works."""
    (tmp_path / "infofrag").symlink_to(root)
    proc = subprocess.run([sys.executable, "-m", "infofrag", "check-config", str(root / "config" / "test.yaml"),
                           "--mem-mb", "0"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in proc.stdout
