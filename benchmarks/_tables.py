"""Shared by the benchmark scripts: write the printed table to a Markdown file with its command."""
import os
import sys


def write_table(out: str, lines: list[str], script: str, argv=None) -> None:
    """Write ``lines`` to ``out`` (folders created), ending with the command that produced them."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    cmd = f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:])
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + f"\n\nCommand: `{cmd}`\n")
