"""``tol check-taxa CSV``: check a catalog's taxa, print a report, write JSON, fail on thresholds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from treeoflife.errors import TolError
from treeoflife.reports import check_taxa


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check-taxa",
        help="check the taxa of a catalog CSV (predicted-catalog.csv or catalog.csv)",
        description="Run the reference's taxa checks (kingdom count, hierarchy gaps, multi-word species, "
        "unknown values, missing common names) and more (ambiguous and conflicting labels, counts by source). "
        "Exits 1 when a threshold is exceeded.",
    )
    p.add_argument(
        "csv", type=Path, help="catalog CSV; build.sqlite next to it adds label statuses"
    )
    p.add_argument("--json", type=Path, help="also write the result as JSON here")
    for name in check_taxa.THRESHOLDS:
        flag = name.replace("_", "-")
        p.add_argument(
            f"--max-{flag}-percent",
            type=float,
            default=None,
            dest=f"max_{name}",
            help=f"fail (exit 1) when more than this percent of images are {name.replace('_', ' ')}",
        )
    p.set_defaults(func=cmd_check_taxa)


def cmd_check_taxa(args: argparse.Namespace) -> int:
    if not args.csv.is_file():
        raise TolError(f"{args.csv} does not exist (expected a catalog CSV)")
    result = check_taxa.check_catalog(args.csv)
    limits = {name: getattr(args, f"max_{name}") for name in check_taxa.THRESHOLDS}
    failures = check_taxa.exceeded(result, limits)
    result["thresholds"] = {k: v for k, v in limits.items() if v is not None}
    result["failed"] = failures
    print(check_taxa.format_report(result))
    if args.json:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(result, indent=2, sort_keys=True) + "\n"
            args.json.write_text(text, encoding="utf-8")
        except OSError as exc:  # a read-only folder, a full disk: the report is printed above
            raise TolError(f"cannot write --json {args.json}: {exc.strerror}") from None
    if failures:
        print("check-taxa: FAILED: " + "; ".join(failures))
        return 1
    return 0
