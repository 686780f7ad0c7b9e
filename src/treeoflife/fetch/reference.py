"""``tol fetch``: bring each catalogue entry into the source layout, or say it is current.

Skip rule (decided here, documented in ``tol fetch --help``): an entry is current when
fetch-manifest.json has a record for it with the same URL and target, every file it put
in the layout is still on disk with the recorded size and SHA-256, and the pinned
``sha256`` (if the catalogue has one) is the recorded one. Then:

* with a pinned sha256, nothing more is asked: the bytes are exactly the ones wanted;
* with ``offline``, the manifest is trusted;
* otherwise one conditional request (If-None-Match / If-Modified-Since) decides: not
  modified → skip; modified → fetch again; server unreachable → keep the verified copy
  and say so (a fetch must not destroy good data because the network is down).

``force`` fetches again regardless. A new version replaces the old one only after it
has been downloaded and verified in full.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from treeoflife.errors import TolError
from treeoflife.fetch import manifest as mf
from treeoflife.fetch import media_manifest, unpack
from treeoflife.fetch.catalogue import Entry
from treeoflife.fetch.http import DEFAULT_POLICY, Policy, download, not_modified

WORK_DIR = ".tol-fetch"  # downloads of archives while they are unpacked, under the root


def stale_reason(entry: Entry, record: dict[str, Any] | None, root: Path) -> str | None:
    """None when the recorded copy of ``entry`` is intact and matches the catalogue."""
    if not record:
        return "not fetched yet"
    if record.get("url") != entry.url:
        return "its URL changed"
    if record.get("target") != entry.target or record.get("unpack") != entry.unpack:
        return "its target changed"
    if entry.sha256 and record.get("sha256") != entry.sha256:
        return "its pinned sha256 changed"
    return mf.outputs_intact(root, record)


def is_current(
    entry: Entry, record: dict[str, Any], *, offline: bool, policy: Policy
) -> tuple[bool, str]:
    """Given an intact copy: (keep it?, why)."""
    if entry.sha256:
        return True, "matches its pinned sha256"
    if offline:
        return True, "intact (offline: trusting the manifest)"
    check_policy = replace(policy, timeout=min(policy.timeout, 30.0))
    verdict = not_modified(
        record.get("final_url") or entry.url,
        record.get("etag"),
        record.get("last_modified"),
        policy=check_policy,
    )
    if verdict is None:
        return True, "intact; the server could not be asked, so the verified copy is kept"
    if verdict:
        return True, "the server says not modified"
    return False, "changed upstream (or the server gives no validators)"


def _unpack(
    entry: Entry, archive: Path, root: Path, limits: unpack.Limits, start_time: str
) -> tuple[list[Path], dict[str, Any]]:
    target = root / entry.target
    extra: dict[str, Any] = {}
    if entry.unpack == "gunzip":
        target.parent.mkdir(parents=True, exist_ok=True)
        files = unpack.gunzip(archive, target, limits=limits)
    elif entry.unpack in ("zip", "tar"):
        files = unpack.extract(archive, target, limits=limits, required=entry.required)
    elif entry.unpack == "media_manifest":
        combined = media_manifest.combine(archive, target, limits=limits)
        log_path = media_manifest.log_path_for(target)
        log = media_manifest.write_log(
            log_path,
            start_time=start_time,
            archive_md5=media_manifest.md5_file(archive),
            out_csv=target,
            url=entry.url,
            columns=combined["columns"],
            rows=combined["rows"],
        )
        extra = {"rows": log["total_entries_in_media_manifest"], "columns": log["column_names"]}
        files = [target, log_path]
    else:
        raise TolError(f"[fetch.{entry.name}] unpack = {entry.unpack!r} is not known")
    return files, extra


def fetch_entry(
    entry: Entry,
    root: Path,
    manifest: dict[str, Any],
    *,
    policy: Policy = DEFAULT_POLICY,
    limits: unpack.Limits = unpack.DEFAULT_LIMITS,
    offline: bool = False,
    force: bool = False,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> str:
    """Fetch one entry unless it is current; record it in ``manifest``; return what happened."""
    record = manifest["entries"].get(entry.name)
    reason = stale_reason(entry, record, root)
    if reason is None and not force:
        keep, why = is_current(entry, record or {}, offline=offline, policy=policy)
        if keep:
            return f"current: {why}"
        reason = why
    if offline:
        raise TolError(f"{entry.name} needs fetching ({reason}) but --offline forbids downloading")
    start_time = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    size = entry.size or None
    sha = entry.sha256 or None
    unpacked = entry.unpack != "none"
    # a packed download goes to a work folder and is removed once unpacked
    dest = root / WORK_DIR / entry.name / entry.archive_name if unpacked else root / entry.target
    dl = download(
        entry.url,
        dest,
        sha256=sha,
        size=size,
        policy=policy,
        progress=progress,
        label=entry.name,
        log=log,
    )
    if not unpacked:
        files, extra = [dest], {}
    else:
        try:
            files, extra = _unpack(entry, dest, root, limits, start_time)
        finally:
            dest.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                dest.parent.rmdir()
                (root / WORK_DIR).rmdir()
    manifest["entries"][entry.name] = {
        "url": entry.url,
        "final_url": dl.final_url,
        "size": dl.size,
        "sha256": dl.sha256,
        "etag": dl.etag,
        "last_modified": dl.last_modified,
        "fetched_at": dl.fetched_at,
        "target": entry.target,
        "unpack": entry.unpack,
        "tries": dl.tries,
        "outputs": mf.outputs_record(root, files),
        **extra,
    }
    mf.save(root, manifest)
    resumed = f", resumed at byte {dl.resumed_from}" if dl.resumed_from else ""
    return (
        f"fetched ({reason}): {dl.size} bytes, sha256 {dl.sha256[:12]}…, "
        f"{len(files)} file(s){resumed}"
    )


def fetch_all(entries: list[Entry], root: Path, **kwargs: Any) -> dict[str, str]:
    """Fetch each entry in turn; one failing entry does not stop the others.

    Returns {name: outcome}; failures start with ``failed:``.
    """
    root.mkdir(parents=True, exist_ok=True)
    manifest = mf.load(root)
    log = kwargs.get("log", print)
    results: dict[str, str] = {}
    for entry in entries:
        try:
            results[entry.name] = fetch_entry(entry, root, manifest, **kwargs)
        except TolError as exc:
            results[entry.name] = f"failed: {exc}"
        log(f"{entry.name:<20} {results[entry.name]}")
    if not any((root / WORK_DIR).rglob("*.part")):  # keep partial downloads for resuming
        shutil.rmtree(root / WORK_DIR, ignore_errors=True)
    return results
