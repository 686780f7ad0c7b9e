"""``tol fetch`` and ``tol fetch-images``: argument parsing and the one-screen summaries."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

from treeoflife.config import FetchConfig, parse_config
from treeoflife.errors import TolError
from treeoflife.fetch.catalogue import load_catalogue, select
from treeoflife.fetch.http import Policy
from treeoflife.fetch.images import ImagePolicy, fetch_images
from treeoflife.fetch.unpack import Limits

FETCH_HELP = """\
Download the reference inputs (EOL Dynamic Hierarchy, EOL vernacular names, the
iNaturalist taxonomy DwC-A, the EOL media manifest, and on request the EOL provider ids
and trait bank) into the source layout, unpacked where the build reads them.

WHAT names catalogue entries (see --list); none means every default entry, `all` means
every entry. URLs, checksums, sizes and targets come from one catalogue; override any
of them, or add entries, in tol.toml:

  [fetch.eol_dh]
  url = "https://mirror.example.org/dh21.zip"
  sha256 = "…"

  [fetch]            # plain settings: timeout, deadline, tries, backoff, max_backoff,
  timeout = 60       # max_redirects, max_unpacked_bytes, max_ratio

Downloads go to a .part file, resume with HTTP Range after a drop, retry timeouts,
connection errors, 5xx and 429 with exponential backoff (Retry-After honoured), are
verified (size, sha256 when known) and only then moved into place. Archives are
unpacked safely (no traversal, no escaping links, bounded against bombs).

SRC/fetch-manifest.json records what was fetched. A later run skips an entry whose
files are intact (size + sha256 as recorded) when its pinned sha256 matches, or, with
no pinned sha256, when a conditional request says it is not modified (or the server
cannot be reached); --offline trusts the manifest without asking; --force fetches again.
"""

IMAGES_HELP = """\
Download images from a URL list (CSV or Parquet) into a source the build reads.

--format eol (default) reads the EOL media manifest columns `EOL Full-Size Copy URL`,
`EOL content ID` and `EOL page ID` and writes EOL image sets
SRC/eol/images/images_NNNN.tar (or .tar.gz with --gzip) of
<content_id>_<page_id>_eol-full-size-copy.jpg: row i of the list goes to set
i // --set-size, members in list order, fixed tar metadata.

--format generic reads the --url-column (default `url`) and passes label columns
through (--label-columns, default any of scientific_name, the seven ranks, common,
license, rights_holder and source_url) into SRC/generic/labels.csv next to
SRC/generic/images/; the build records each image's license from them.

Every URL's outcome is kept in a state file next to the output: a re-run fetches only
what is not done, and never forgets a failure. The list may be edited between runs:
images already fetched for URLs still listed are kept. An image set or image that was
deleted or changed on disk since it was written is done again. Failures (HTTP status,
timeout, connection, not_an_image, too_large, bad_url, …) are listed in
fetch-images-failures.csv and retried only with --retry-failed. Redirects are followed
(to another host too, e.g. a CDN) unless --same-host-redirects; credentials in a URL
(user:pass@) are dropped when the list is read and never written anywhere.

--gbif DIR fetches the media of an unpacked GBIF occurrence download instead of a URL
list: every StillImage row of DIR/multimedia.txt, into DIR/images/<id[:2]>/<id>.<type>
(named by the image's treeoflife_id), where `tol build` reads them with the occurrences'
labels (the default DIR in a source collection is SOURCES/gbif/occurrence). The state and
fetch-images-failures.csv are kept in DIR.

With a Dask scheduler in --config's [distribute] (or TOL_DASK_SCHEDULER), as for a build,
the pending rows are cut into shards of --shard-size rows, each a task on the cluster
(every worker must see the output folder at the same path). Each shard journals its
outcomes as it goes, so a run killed midway resumes without fetching them again, and the
--per-host limit holds across the whole cluster (a distributed.Semaphore per host);
--concurrency is per worker process, --delay is kept by each worker process.
"""


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add ``fetch`` and ``fetch-images`` to the ``tol`` command."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "fetch",
        help="download the reference inputs into the source layout",
        description=FETCH_HELP,
        formatter_class=fmt,
    )
    p.add_argument(
        "what",
        nargs="*",
        metavar="WHAT",
        help="catalogue entries to fetch (default: the default ones; `all`: every one)",
    )
    p.add_argument(
        "--sources",
        type=Path,
        help="source collection root to fetch into (default: sources_root of --config)",
    )
    p.add_argument("--config", type=Path, help="tol.toml with [fetch.<name>] overrides and [paths]")
    p.add_argument("--list", action="store_true", help="show the catalogue and exit")
    p.add_argument(
        "--offline",
        action="store_true",
        help="never touch the network: trust the manifest for what is there, fail for what is not",
    )
    p.add_argument("--force", action="store_true", help="fetch again even what is current")
    p.add_argument(
        "--timeout", type=float, help="seconds without data before a try fails (default 60)"
    )
    p.add_argument(
        "--deadline",
        type=float,
        help="seconds allowed per file, all tries included (default 21600)",
    )
    p.add_argument("--tries", type=int, help="tries per file (default 8)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_fetch)

    p = subparsers.add_parser(
        "fetch-images",
        help="download images from a URL list into EOL image sets or a generic source",
        description=IMAGES_HELP,
        formatter_class=fmt,
    )
    p.add_argument(
        "urls", type=Path, nargs="?", metavar="URLS", help="CSV or Parquet list of image URLs"
    )
    p.add_argument("--out-sources", type=Path, help="source collection root to write into")
    p.add_argument(
        "--gbif",
        type=Path,
        metavar="DIR",
        help="fetch the media of the GBIF occurrence download unpacked in DIR (no URLS)",
    )
    p.add_argument("--config", type=Path, help="tol.toml whose [distribute] says where to run")
    p.add_argument(
        "--workers", type=int, default=1, help="Dask worker processes to keep busy (with Dask)"
    )
    p.add_argument(
        "--shard-size",
        type=int,
        default=1000,
        help="rows per task on a Dask cluster (default 1000)",
    )
    p.add_argument("--format", choices=("eol", "generic"), default="eol")
    p.add_argument(
        "--url-column",
        help="column holding the URL (default: `EOL Full-Size Copy URL` "
        "for eol, `url` for generic)",
    )
    p.add_argument(
        "--label-columns", help="comma-separated label columns to pass through (generic)"
    )
    p.add_argument(
        "--set-size", type=int, default=1000, help="images per EOL image set (default 1000)"
    )
    p.add_argument("--gzip", action="store_true", help="write .tar.gz image sets instead of .tar")
    p.add_argument(
        "--prefix",
        default="images",
        help="image set name prefix, and of the state file "
        "(default images); use another one for a second list into the same sources",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="connections in total (default 16; per worker process on Dask)",
    )
    p.add_argument("--per-host", type=int, default=4, help="connections per host (default 4)")
    p.add_argument(
        "--delay", type=float, default=0.0, help="seconds between request starts on one host"
    )
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds without data before a try fails"
    )
    p.add_argument(
        "--tries", type=int, default=3, help="tries per image on timeouts, drops, 5xx, 429"
    )
    p.add_argument("--backoff", type=float, default=1.0, help="first wait between tries, doubling")
    p.add_argument("--max-bytes", type=int, default=50 * 1024 * 1024, help="largest image accepted")
    p.add_argument("--retry-failed", action="store_true", help="try earlier failures again")
    p.add_argument(
        "--same-host-redirects",
        action="store_true",
        help="refuse a redirect to another host (default: follow it, e.g. to a CDN)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_fetch_images)


def policy_from(settings: FetchConfig, args: argparse.Namespace) -> tuple[Policy, Limits]:
    """Download policy and unpack limits: the [fetch] settings, then command-line flags."""
    values = {f.name: getattr(settings, f.name) for f in fields(Policy) if f.name != "user_agent"}
    for key in ("timeout", "deadline", "tries"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    if values["tries"] < 1:
        raise TolError("tries must be at least 1")
    limits = Limits(max_total=settings.max_unpacked_bytes, max_ratio=settings.max_ratio)
    return replace(Policy(), **values), limits


def cmd_fetch(args: argparse.Namespace) -> int:
    from treeoflife.fetch.reference import fetch_all

    config = parse_config(args.config, args.sources)
    catalogue = load_catalogue(config.fetch.entries, config.paths)
    if args.list:
        print_catalogue(catalogue)
        return 0
    if not config.sources_root:
        raise TolError("no sources given: pass --sources DIR (where the reference inputs go)")
    root = Path(config.sources_root)
    policy, limits = policy_from(config.fetch, args)
    entries = select(catalogue, args.what)
    print(f"fetch into {root.resolve()}", file=sys.stderr)
    results = fetch_all(
        entries,
        root,
        policy=policy,
        limits=limits,
        offline=args.offline,
        force=args.force,
        progress=False if args.no_progress else None,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    failed = [n for n, r in results.items() if r.startswith("failed:")]
    if failed:
        raise TolError(
            f"{len(failed)} of {len(results)} fetches failed ({', '.join(failed)}); "
            "run `tol fetch` again to resume"
        )
    return 0


def print_catalogue(catalogue: dict) -> None:
    for e in catalogue.values():
        flag = "" if e.default else "  (only when named or `all`)"
        print(
            f"{e.name}{flag}\n  {e.description}\n  url:    {e.url}\n  target: {e.target} "
            f"(unpack: {e.unpack})"
            + (f"\n  sha256: {e.sha256}" if e.sha256 else "")
            + (f"\n  size:   {e.size}" if e.size else "")
        )


def cmd_fetch_images(args: argparse.Namespace) -> int:
    policy = ImagePolicy(
        concurrency=args.concurrency,
        per_host=args.per_host,
        delay=args.delay,
        timeout=args.timeout,
        tries=args.tries,
        backoff=args.backoff,
        max_bytes=args.max_bytes,
        same_host_redirects=args.same_host_redirects,
    )
    if policy.concurrency < 1 or policy.per_host < 1 or policy.tries < 1:
        raise TolError("--concurrency, --per-host and --tries must be at least 1")
    if (args.urls is None) == (args.gbif is None):
        raise TolError("give either a URL list (URLS --out-sources DIR) or --gbif DIR")
    if args.urls is not None and args.out_sources is None:
        raise TolError("a URL list needs --out-sources: the source collection to write into")
    distribute = parse_config(args.config, None).distribute if args.config else None
    labels = (
        [c.strip() for c in args.label_columns.split(",") if c.strip()]
        if args.label_columns
        else None
    )
    summary = fetch_images(
        args.urls,
        args.out_sources,
        fmt=args.format,
        url_column=args.url_column,
        label_columns=labels,
        set_size=args.set_size,
        gz=args.gzip,
        prefix=args.prefix,
        retry_failed=args.retry_failed,
        policy=policy,
        progress=False if args.no_progress else None,
        log=lambda m: print(m, file=sys.stderr, flush=True),
        gbif=args.gbif,
        workers=args.workers,
        distribute=distribute,
        shard_size=args.shard_size,
    )
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
