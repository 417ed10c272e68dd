"""`cifar-tui store`: which store this is and where its run files go."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import db_parent, open_store, print_json


def register(sub: Any) -> None:
    p = sub.add_parser(
        "store", parents=[db_parent()], help="show the store's id and artifact root (or set it)",
        description="Show the store (URL with any password masked), its id and the folder "
                    "its runs' checkpoints and logs go to. Each store has its own folder, "
                    "so two stores never share or delete each other's files.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--artifact-root", metavar="PATH",
                       help="put new runs' files under PATH (its parent folder must exist): "
                            "a shared mount at the same path on every host lets a run "
                            "interrupted on one host resume on another; runs already "
                            "recorded keep their files where they are")
    where.add_argument("--default-artifact-root", action="store_true",
                       help="back to the default folder under the app home")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_store)


def cmd_store(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        changed = args.artifact_root is not None or args.default_artifact_root
        if args.artifact_root is not None:
            store.set_artifact_root(args.artifact_root)  # a StoreError is the one-line refusal
        elif args.default_artifact_root:
            store.set_artifact_root(None)
        info = {"url": store.display_url, "store_id": store.store_id,
                "artifact_root": str(store.artifact_root)}
    if args.json:
        print_json(info)
        return 0
    print(f"store          {info['url']}")
    print(f"id             {info['store_id']}")
    print(f"artifact root  {info['artifact_root']}" + ("  (set now)" if changed else ""))
    print("               a run resumes on another host only when every host sees this\n"
          "               folder at this path (NFS and the like); otherwise it resumes on\n"
          "               the host that wrote its checkpoint")
    return 0
