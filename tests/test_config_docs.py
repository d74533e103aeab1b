"""config/README.md is generated from infofrag/schema.yaml and must not drift from it."""
import difflib

from infofrag.config import load_schema
from infofrag.config_docs import COMMAND, render


def _properties(schema, path=""):
    """(dotted path, property schema) of every property in the schema, nested ones included."""
    for key, prop in schema.get("properties", {}).items():
        sub = f"{path}.{key}" if path else key
        yield sub, prop
        yield from _properties(prop, sub)
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            yield from _properties(extra, f"{sub}.<name>")


def test_config_readme_is_generated_from_the_schema(root):
    want = render(load_schema())
    have = (root / "config" / "README.md").read_text()
    if have != want:
        diff = "".join(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                            "config/README.md (committed)", "render(schema)", n=1))
        raise AssertionError(f"config/README.md is out of date with infofrag/schema.yaml; "
                             f"regenerate it with `{COMMAND}`\n{diff}")


def test_every_schema_property_has_a_description():
    missing = [path for path, prop in _properties(load_schema())
               if not str(prop.get("description", "")).strip()]
    assert not missing, f"infofrag/schema.yaml: properties without a description: {missing}"


def test_every_property_appears_in_the_page():
    page = render(load_schema())
    for path, _ in _properties(load_schema()):
        assert f"`{path.rsplit('.', 1)[-1]}`" in page, path


def test_render_escapes_and_marks_required():
    schema = {
        "type": "object", "required": ["s"],
        "properties": {"s": {"type": "object", "required": ["k"], "description": "a section",
                             "properties": {
                                 "k": {"type": "integer", "minimum": 1, "description": "a | b <c>"},
                                 "o": {"enum": ["x", "y"], "default": "x", "description": "`<ok>`"},
                             }}},
    }
    page = render(schema)
    assert "## `s` (required)" in page
    assert "| `k` | integer | *required* | >= 1 | a \\| b &lt;c> |" in page
    assert "| `o` | string | `x` | `x`, `y` | `<ok>` |" in page
