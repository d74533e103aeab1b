"""Shared by the benchmark scripts: write a table to a Markdown file with its command, or into a
marked block of a document (so that rerunning a script regenerates the numbers a page shows)."""
import os
import sys


def write_table(out: str, lines: list[str], script: str, argv=None) -> None:
    """Write ``lines`` to ``out`` (folders created), ending with the command that produced them."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    cmd = f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:])
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + f"\n\nCommand: `{cmd}`\n")


def replace_block(path, name: str, lines: list[str]) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in ``path``."""
    from pathlib import Path

    from infofrag.atomic import write_text

    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    path = Path(path)
    text = path.read_text()
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise SystemExit(f"{path}: needs exactly one '{begin}' followed by one '{end}'")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    write_text(path, head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)
