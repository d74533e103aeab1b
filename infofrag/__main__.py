"""Command line: ``python -m infofrag <command>``.

  check-config CONFIG          validate a workflow config (schema + semantics), list members/blocks
  audit RESULT [--config C]    walk a result's provenance back to the models and the config;
                               exit 1 on any mismatch
  plan CONFIG                  show members, blocks and similarity shards of a config
"""

from __future__ import annotations

import argparse
import json
import sys


def _resolver(config, key):
    """Current config value for a key recorded in a provenance record's ``config_used``."""
    from . import config as ifc

    if key.startswith("member:"):
        name = key.split(":", 1)[1]
        table = ifc.member_table(config)
        if name not in table:
            raise KeyError(key)
        return table[name].train_config()
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def cmd_check_config(args) -> int:
    from . import config as ifc

    cfg = ifc.load_config(args.config)
    ms, bs = ifc.members(cfg), ifc.blocks(cfg)
    print(f"{args.config}: valid. {len(ms)} members, "
          f"{sum(m.latent_dim for m in ms)} channels, {len(bs)} blocks, "
          f"{len(ifc.block_pairs(cfg))} similarity shards")
    return 0


def cmd_plan(args) -> int:
    from . import config as ifc

    cfg = ifc.load_config(args.config)
    for b in ifc.blocks(cfg):
        print(f"block {b.name}: {', '.join(b.members)}")
    for a, b in ifc.block_pairs(cfg):
        print(f"shard {a}__{b}")
    return 0


def cmd_audit(args) -> int:
    from . import config as ifc
    from .provenance import audit

    current = ifc.load_config(args.config) if args.config else None
    links = audit(args.result, current_config=current, config_resolver=_resolver)
    bad = [link for link in links if not link["ok"]]
    if args.json:
        print(json.dumps({"ok": not bad, "links": links}, indent=1))
    else:
        for link in links:
            if args.verbose or not link["ok"]:
                mark = "ok  " if link["ok"] else "FAIL"
                print(f"{mark} {link['kind']:6s} {link['path']}  -- {link['detail']}")
        n_files = len({link["path"] for link in links if link["kind"] != "config"})
        print(f"audit of {args.result}: {len(links)} links over {n_files} files checked, "
              f"{len(bad)} mismatch(es)" + ("" if current else " (config not compared: pass --config)"))
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infofrag", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check-config", help="validate a workflow config")
    p.add_argument("config")
    p.set_defaults(func=cmd_check_config)
    p = sub.add_parser("plan", help="members, blocks and shards of a config")
    p.add_argument("config")
    p.set_defaults(func=cmd_plan)
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
