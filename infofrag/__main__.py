"""Command line: ``python -m infofrag <command>``.

  check-config CONFIG          validate a workflow config (schema + semantics), list members/blocks
  audit RESULT [--config C]    walk a result's provenance back to the models and the config;
                               exit 1 on any mismatch
  plan CONFIG                  show members, blocks and similarity shards of a config
  sample CONFIG --out FILE     write the run's fingerprint sample (x, indices, factors and its
                               digest) to an .npz, for encoding it with models trained elsewhere
"""

from __future__ import annotations

import argparse
import json
import sys


def cmd_check_config(args) -> int:
    from . import config as ifc
    from . import resources

    cfg = ifc.load_config(args.config)
    ifc.check_dataset_files(cfg)  # the same checks as the workflow, before any job
    ifc.check_imported_files(cfg)
    ens = ifc.ensemble(cfg)
    ms = list(ens.members.values())
    limit = resources.available_mb() if args.mem_mb is None else args.mem_mb
    resources.check(cfg, ms, limit or None)
    spaces = (f", {len(ens.spaces.pairs)} whole-space shards (Monte Carlo for "
              + ("every pair" if ens.spaces.cross_groups else f"the first {ens.spaces.per_group} members of each "
                 "group, pairs within groups") + ")") if ens.spaces else ""
    print(f"{args.config}: valid. {len(ms)} members, "
          f"{sum(m.latent_dim for m in ms)} channels, {len(ens.blocks)} blocks, "
          f"{len(ens.pairs)} similarity shards{spaces}")
    need = resources.mem_mb(cfg, ms)
    if not cfg["spaces"]["enabled"]:
        need = {r: v for r, v in need.items() if r not in ("spaces", "spaces_gather")}
    print("memory per job (MB, each rule's request: its largest job's estimated peak and a 25% margin, at least "
          "the rule's floor): "
          + ", ".join(f"{r} {v}" for r, v in need.items()))
    rule, most = max(((r, v) for r, v in resources.need_mb(cfg, ms).items() if r in need), key=lambda kv: kv[1])
    where = (f"the {limit / 1024:.1f} GiB " + ("given (--mem-mb)" if args.mem_mb is not None else "of this machine")
             if limit else "this machine's memory (unknown)")
    print(f"largest estimated job: {rule}, {most / 1024:.1f} GiB; fits in {where}" if limit else
          f"largest estimated job: {rule}, {most / 1024:.1f} GiB; {where}")
    return 0


def cmd_plan(args) -> int:
    from . import config as ifc

    cfg = ifc.load_config(args.config)
    for b in ifc.blocks(cfg):
        print(f"block {b.name}: {', '.join(b.members)}")
    for a, b in ifc.block_pairs(cfg):
        print(f"shard {a}__{b}")
    return 0


def coverage_links(result, config) -> list[dict]:
    """Whether the results behind ``result`` cover the config's ensemble: every member trained
    and encoded, every similarity shard of its blocks, and nothing else."""
    from . import config as ifc
    from .provenance import walked_records

    recs = walked_records(result)
    if not any(r["rule"] == "gather" for r in recs):
        return []  # a result upstream of the gathered store: nothing to cover
    want_members = set(ifc.member_table(config))
    want_shards = {f"{a}__{b}" for a, b in ifc.block_pairs(config)}
    have_members = {r["wildcards"]["member"] for r in recs if r["rule"] == "encode"}
    have_shards = {f"{r['wildcards']['block_a']}__{r['wildcards']['block_b']}" for r in recs
                   if r["rule"] == "similarity"}
    links = []
    for kind, want, have in (("member", want_members, have_members), ("shard", want_shards, have_shards)):
        for name in sorted(want - have):
            links.append({"path": f"{kind}:{name}", "kind": "coverage", "ok": False,
                          "detail": f"the config has {kind} {name}; the results do not (rerun the workflow)"})
        for name in sorted(have - want):
            links.append({"path": f"{kind}:{name}", "kind": "coverage", "ok": False,
                          "detail": f"the results hold {kind} {name}, which the config no longer has"})
    return links


def cmd_audit(args) -> int:
    from . import config as ifc
    from .keys import Keys
    from .provenance import audit, results_root
    from .provenance.audit import user_inputs

    current = ifc.load_config(args.config) if args.config else None
    links = audit(args.result, keys=Keys(current) if current is not None else None)
    if current is not None:
        links += coverage_links(args.result, current)
    bad = [link for link in links if not link["ok"]]
    users = user_inputs(args.result)
    if args.json:
        print(json.dumps({"ok": not bad, "tree": str(results_root(args.result)), "links": links,
                          "user_inputs": users}, indent=1))
        return 1 if bad else 0
    if users:
        print("what you brought, as the results read it:")
        files = {link["path"]: link["ok"] for link in links if link.get("external")}
        for u in users:
            mark = "ok  " if files.get(u["path"], True) else "FAIL"
            who = f" (member {u['member']})" if u.get("member") else ""
            digest = (u["sha256"] or "no module of yours")[:16]
            print(f"  {mark} {u['what']:11s} {u['path']}  {'sha256' if u['what'] == 'file' else 'modules'} "
                  f"{digest}...{who}, read by {u['rule']}")
    for link in links:
        if args.verbose or not link["ok"]:
            mark = "ok  " if link["ok"] else "FAIL"
            print(f"{mark} {link['kind']:6s} {link['path']}  -- {link['detail']}")
    n_files = len({link["path"] for link in links if link["kind"] in ("output", "input")})
    n_keys = sum(link["kind"] == "key" for link in links)
    print(f"audit of {args.result} in the results tree {results_root(args.result)}: {len(links)} links "
          f"over {n_files} files" + (f" and {n_keys} jobs' keys (config values, your files, code)" if n_keys else "")
          + f" checked, {len(bad)} mismatch(es)"
          + ("" if current else " (keys and coverage not compared: pass --config)"))
    return 1 if bad else 0


def cmd_sample(args) -> int:
    """The fingerprint sample a run of CONFIG uses, drawn exactly as the sample rule draws it."""
    import numpy as np

    from . import config as ifc
    from . import data
    from .store.sample import content_digest

    cfg = ifc.load_config(args.config)
    ifc.check_dataset_files(cfg)
    ds = data.make_dataset(dict(cfg["dataset"]))
    drawn = data.draw_sample(ds, cfg["sample"]["n_points"], cfg["sample"]["seed"])
    digest = content_digest(drawn["indices"], drawn["x"])
    if not str(args.out).endswith(".npz"):  # np.savez would add it; say the file's real name
        args.out = f"{args.out}.npz"
    np.savez(args.out, x=np.asarray(drawn["x"], np.float32), indices=drawn["indices"],
             factors=drawn["factors"], factor_names=np.array(drawn["factor_names"], dtype=str),
             sample_digest=np.array(digest))
    print(f"{args.out}: {len(drawn['x'])} points of '{ds.name}', x {tuple(np.shape(drawn['x']))} in [0, 1]; "
          f"sample_digest {digest}")
    print("Encode x with your model and save mu, logvar [N, d] (in this order) with this sample_digest: "
          "np.savez(path, mu=mu, logvar=logvar, sample_digest=digest)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infofrag", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check-config", help="validate a workflow config")
    p.add_argument("config")
    p.add_argument("--mem-mb", type=int, default=None,
                   help="memory a job may use (MB; default: this machine's, as a local run; a cluster "
                        "node's for a cluster config; 0: no check)")
    p.set_defaults(func=cmd_check_config)
    p = sub.add_parser("plan", help="members, blocks and shards of a config")
    p.add_argument("config")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("sample", help="write the run's fingerprint sample, for models trained elsewhere")
    p.add_argument("config")
    p.add_argument("--out", required=True, help="the .npz file to write")
    p.set_defaults(func=cmd_sample)
    p = sub.add_parser("audit", help="check a result's provenance chain")
    p.add_argument("result")
    p.add_argument("--config", help="compare the config values each job used with this config")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="print every link, not only failures")
    p.set_defaults(func=cmd_audit)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # ConfigError and friends: one clear line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
