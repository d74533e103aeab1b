"""The configuration reference, ``config/README.md``, generated from ``infofrag/schema.yaml``.

    python -m infofrag.config_docs > config/README.md

:func:`render` turns the JSON schema into a Markdown page: one table per config section (key,
type, default, allowed values or range, description). Every key comes from the schema, so the
page cannot say anything the schema does not; ``tests/test_config_docs.py`` checks that the
committed page is exactly what :func:`render` gives for the current schema.
"""

from __future__ import annotations

import sys

__all__ = ["render", "main", "COMMAND"]

#: The command that regenerates the page (quoted in the page and in the test's failure message).
COMMAND = "python -m infofrag.config_docs > config/README.md"

_PREAMBLE = f"""\
# Configuration

<!-- Generated from infofrag/schema.yaml by `{COMMAND}`; edit the schema, not this page. -->

A workflow config is a YAML file given to Snakemake with `--configfile` (without one, the
Snakefile uses `config/demo.yaml`). Shipped configs:

| file | what it is |
| --- | --- |
| `config/test.yaml` | tiny (2 betas x 2 seeds, 3 channels each): the whole workflow in about a minute; used by the tests |
| `config/demo.yaml` | one machine, no GPU: 12 members on procedural dSprites at 32 x 32 (`make demo`) |
| `config/circle.yaml` | the fusion demonstration: 50 one-dimensional members on the circle, ensemble-size sweep |
| `config/config.yaml` | paper scale, for a GPU cluster: 6 betas x 50 seeds on dSprites at 64 x 64 |

`python -m infofrag check-config FILE` validates a config and prints its size (members,
channels, blocks, shards); `python -m infofrag plan FILE` lists its blocks and shards.

A config is checked before any job runs: first against the schema below (types, ranges, known
names; missing keys get their defaults), then for what a schema cannot say: a fingerprint sample
larger than the dataset, a block size larger than the ensemble, an override of a member that is
not in the sweep, two members that would train the identical model, an architecture that does
not fit the images, a user data file that cannot be read. The message names the key.

Sections marked (required) must be present. In the tables, *required* in the default column marks
a key that must be set; a key with neither a default nor *required* is optional.
"""


def _cell(text) -> str:
    """Text for one table cell: whitespace collapsed, pipes escaped, and ``<`` escaped outside
    code spans (``b<beta>_s<seed>`` would otherwise be taken for an HTML tag)."""
    parts = " ".join(str(text).split()).replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return _inline(value)
    return str(value)


def _inline(value) -> str:
    """YAML flow style for defaults: ``[nmi, vi, info]``, ``{}``, ``0.001``."""
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"
    return _scalar(value)


def _sentence(text: str) -> str:
    text = _cell(text)
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _type(prop: dict) -> str:
    t = prop.get("type")
    if t is None and "enum" in prop:
        kinds = {type(v).__name__ for v in prop["enum"]}
        t = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            kinds.pop(), "value") if len(kinds) == 1 else "value"
    if isinstance(t, list):
        t = " or ".join(t)
    if t == "array":
        items = prop.get("items", {})
        return f"list of {_type(items)}" if items else "list"
    if t == "object":
        return "mapping"
    return t or "value"


def _bounds(prop: dict) -> list[str]:
    out = []
    if "enum" in prop:
        out.append(", ".join(_code(_scalar(v)) for v in prop["enum"]))
    limits = [f"{op} {_scalar(prop[key])}" for key, op in
              (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
              if key in prop]
    if limits:
        out.append(" and ".join(limits))
    if prop.get("minLength") == 1:
        out.append("non-empty")
    elif "minLength" in prop:
        out.append(f"at least {prop['minLength']} characters")
    if prop.get("minItems") == 1:
        out.append("non-empty")
    elif "minItems" in prop:
        out.append(f"at least {prop['minItems']} items")
    if prop.get("uniqueItems"):
        out.append("no duplicates")
    if "minProperties" in prop:
        out.append(f"at least {prop['minProperties']} key{'s' if prop['minProperties'] != 1 else ''}")
    items = prop.get("items")
    if isinstance(items, dict):
        inner = _bounds(items)
        if inner:
            out.append("each " + ", ".join(inner))
    return out


def _row(key: str, prop: dict, required: bool) -> str:
    if "default" in prop:
        default = _code(_inline(prop["default"]))
    else:
        default = "*required*" if required else ""
    allowed = "; ".join(_bounds(prop))
    return (f"| `{key}` | {_cell(_type(prop))} | {default} | {_cell(allowed)} | "
            f"{_cell(prop.get('description', ''))} |")


def _sections(schema: dict, path: str):
    """(path, object schema) of every object that has properties, depth first, schema order."""
    props = schema.get("properties", {})
    if props:
        yield path, schema
    for key, prop in props.items():
        if not isinstance(prop, dict):
            continue
        sub = f"{path}.{key}" if path else key
        if prop.get("properties"):
            yield from _sections(prop, sub)
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("properties"):
            yield from _sections(extra, f"{sub}.<{_placeholder(key)}>")
        items = prop.get("items")
        if isinstance(items, dict) and items.get("properties"):
            yield from _sections(items, f"{sub}[]")


def _placeholder(key: str) -> str:
    return {"overrides": "member"}.get(key, "name")


def _table(schema: dict, sections: bool = True) -> list[str]:
    """The rows of an object's keys; with ``sections``, a key that has keys of its own gets a row
    too (its keys follow under its own heading)."""
    required = set(schema.get("required", []))
    lines = ["| key | type | default | allowed values | description |",
             "| --- | --- | --- | --- | --- |"]
    for key, prop in schema.get("properties", {}).items():
        if prop.get("properties") and not sections:
            continue  # a section of its own
        lines.append(_row(key, prop, key in required))
    return lines


def render(schema: dict) -> str:
    """The Markdown configuration reference for ``schema`` (a parsed ``config/schema.yaml``)."""
    out = [_PREAMBLE]
    top_required = set(schema.get("required", []))
    for path, sect in _sections(schema, ""):
        if not path:
            rows = [k for k, p in sect.get("properties", {}).items() if not p.get("properties")]
            if not rows:
                continue
            out.append("## Top level\n")
            out.append("\n".join(_table(sect, sections=False)) + "\n")
            continue
        top = path.split(".")[0]
        heading = f"## `{path}`" if "." not in path else f"### `{path}`"
        if "." not in path:
            heading += " (required)" if top in top_required else " (optional)"
        out.append(heading + "\n")
        if sect.get("description"):
            out.append(_sentence(sect["description"]) + "\n")
        if path.endswith(">"):
            out.append("Each entry may set any of these keys (at least one); the rest come from "
                       "the sweep.\n")
        if path.endswith("[]"):
            out.append("Each entry of the list has these keys.\n")
        out.append("\n".join(_table(sect)) + "\n")
    return "\n".join(out)


def main(argv=None) -> int:
    """Print the page for the package's schema (or for the schema file given as argument)."""
    from .config import SCHEMA_PATH, load_schema

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    schema = load_schema(argv[0] if argv else SCHEMA_PATH)
    sys.stdout.write(render(schema))
    return 0


if __name__ == "__main__":
    sys.exit(main())
