"""The audit: walk from a result back through every record to the models, the sample and the
files a user brought, and check each link against the tree at hand."""

from __future__ import annotations

from pathlib import Path

from ..errors import IntegrityError
from .digests import digest_path
from .records import find_record, read_record, resolve


def _walk(result):
    """(record path, record or the IntegrityError reading it) of every record in the chain behind
    ``result``, each once, breadth first."""
    first = find_record(result)
    queue, seen = ([first] if first is not None else []), set()
    while queue:
        rp = queue.pop(0)
        if rp in seen:
            continue
        seen.add(rp)
        try:
            rec = read_record(rp)
        except IntegrityError as exc:
            yield rp, exc
            continue
        yield rp, rec
        queue += [resolve(rp, e["record"]) for e in rec["inputs"] if e.get("record")]


def audit(result: str | Path, keys=None) -> list[dict]:
    """Walk from ``result`` back through every input's record.

    Returns one entry per link: ``{"path", "kind", "ok", "detail"}``. ``kind`` is "output" (a
    file against its own record), "input" (a file a job read, against the digest it recorded;
    ``external``: a file the user brought), "record" (a record that is missing or unreadable) or
    "key" (what decided the job -- config values, the user's files' contents, the code -- against
    what it would be now, :class:`infofrag.keys.Keys` of the current config). Every path is
    resolved against the record that names it, so the files checked are those of the tree that
    holds ``result``, wherever it lies.
    """
    if find_record(result) is None:
        return [{"path": str(result), "kind": "output", "ok": False, "detail": "no provenance record found"}]
    links: list[dict] = []
    for rp, rec in _walk(result):
        if isinstance(rec, IntegrityError):
            links.append({"path": str(rp), "kind": "record", "ok": False, "detail": str(rec)})
            continue
        for out, digest in rec["outputs"].items():
            path = resolve(rp, out)
            ok, detail = _compare(path, digest)
            links.append({"path": str(path), "kind": "output", "ok": ok, "detail": f"{rec['rule']}: {detail}"})
        for entry in rec["inputs"]:
            path = resolve(rp, entry["path"])
            ok, detail = _compare(path, entry["sha256"])
            if not entry.get("external") and not entry.get("record"):
                ok, detail = False, "read without a provenance record of its own"
            links.append({"path": str(path), "kind": "input", "ok": ok, "external": bool(entry.get("external")),
                          "detail": f"read by {rec['rule']} ({rp}): {detail}"})
        if keys is not None:
            links.append(_key_link(rec, rp, keys))
    return links


def _key_link(rec, rp, keys) -> dict:
    """The record's key against the key its job would have now (names the entries that differ,
    with both values; says when only the code changed, and which rule's)."""
    from ..keys import digest
    from .current import _differences, _lookup, _short

    job = f"{rec['rule']}{' ' + ' '.join(map(str, rec['wildcards'].values())) if rec['wildcards'] else ''}"
    try:
        now = keys.of(rec["rule"], rec["wildcards"])
    except KeyError as exc:
        return {"path": f"key:{job}", "kind": "key", "ok": False,
                "detail": f"{rp}: the config has no such job ({exc}): the results hold more than it asks for"}
    recorded = rec.get("key")
    if recorded is None:
        return {"path": f"key:{job}", "kind": "key", "ok": False,
                "detail": f"{rp}: written without a key (an earlier version): rerun the workflow"}
    if rec.get("key_digest") == digest(now):
        return {"path": f"key:{job}", "kind": "key", "ok": True, "detail": f"{rp}: made as the config and code say now"}
    changed = _differences(recorded, now)
    what = (f"the code of rule {rec['rule']} changed" if changed == ["code"] else
            f"{', '.join(changed[:4])} changed")
    said = "; ".join(f"{k}: recorded {_short(_lookup(recorded, k))}, now {_short(_lookup(now, k))}" for k in changed[:4])
    return {"path": f"key:{job}", "kind": "key", "ok": False, "detail": f"{rp}: {what} ({said})"}


def user_inputs(result) -> list[dict]:
    """What the results behind ``result`` were made from that the user brought, with digests:
    data files and imported members' files (as read), and imported members' entry points (the
    digest of the user's modules they import)."""
    out, seen = [], set()
    for rp, rec in _walk(result):
        if isinstance(rec, IntegrityError):
            continue
        for entry in rec["inputs"]:
            if entry.get("external") and entry["path"] not in seen:
                seen.add(entry["path"])
                out.append({"what": "file", "path": entry["path"], "sha256": entry["sha256"], "rule": rec["rule"]})
        member = (rec.get("key") or {}).get("member") or {}
        if isinstance(member, dict) and member.get("entry_point") and member["entry_point"] + member["name"] not in seen:
            seen.add(member["entry_point"] + member["name"])
            out.append({"what": "entry point", "path": member["entry_point"], "sha256": member.get("module_digest"),
                        "rule": rec["rule"], "member": member["name"]})
    return out


def walked_records(result: str | Path) -> list[dict]:
    """Every readable record in the chain behind ``result`` (for coverage checks)."""
    return [rec for _, rec in _walk(result) if not isinstance(rec, IntegrityError)]


def results_root(result: str | Path) -> Path:
    """The results directory that holds ``result`` (as its record names it)."""
    rec_path = find_record(result)
    if rec_path is None:
        return Path(result).resolve().parent
    root = read_record(rec_path).get("results_root")
    return (resolve(rec_path, root) if root else rec_path.parent).resolve()


def _compare(path: Path, expected: str):
    if not path.exists():
        return False, "missing"
    actual = digest_path(path)
    if actual != expected:
        return False, f"digest mismatch (now {actual[:12]}..., recorded {expected[:12]}...)"
    return True, "digest matches"
