"""Filter (stage ``filter``): leave out, before the split, what ``[filters]`` says to.

Everything a filter needs was learnt by scan: the license of each image (``rights``), and
from its one decode the source's width and height, the pixel standard deviation of the
small image, and the sha256 of the source bytes (``encoded``). So the filters are SQL over
those relations, applied before the split: a filtered image is never split, and with the
``stable`` split no other image moves (each image's split depends on its own id alone), so
a rebuild with a stricter filter drops exactly the images it catches.

Each filter has its own reason code in the ``rejects`` table (stage ``filter``, outcome
dropped); an image caught by two filters gets both rows, and the summary counts each.
Changing ``[filters]`` re-runs this stage and the ones after it, never the image pass.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from treeoflife import builddb, licenses
from treeoflife.config import FilterConfig
from treeoflife.errors import TolError
from treeoflife.stages import BuildContext, Stage, file_signature

NAME = "filter"
# the images a filter may catch: those the image pass could read
_READ = (
    "FROM images i JOIN encoded e ON e.treeoflife_id = i.treeoflife_id AND e.reject IS NULL "
    "LEFT JOIN rights r ON r.treeoflife_id = i.treeoflife_id "
)
_INSERT = "INSERT OR REPLACE INTO rejects (item, stage, reason, outcome, detail) SELECT "
# what split and later stages use to leave filtered images out: the filtered ids are
# gathered once a statement into a set SQLite keeps in memory (a few; none by default),
# not searched for in ``rejects`` by id for every image (~2 µs an image at 1M)
NOT_FILTERED = "{id} NOT IN (SELECT fr.item FROM rejects fr WHERE fr.stage = 'filter')"
_SHA256 = re.compile(r"^([0-9a-fA-F]{64})\b")


def placeholder_digests(cfg: FilterConfig, listing: Path) -> list[str]:
    """The sha256 digests of known placeholder images: ``filters.placeholder_sha256`` and
    the lines of the placeholders file (``sha256sum`` output; ``#`` starts a comment)."""
    digests = set(cfg.placeholder_sha256)
    if listing.is_file():
        for n, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = _SHA256.match(line)
            if m is None:
                raise TolError(
                    f"{listing}:{n}: expected a sha256 digest (64 hex digits) at the start "
                    f"of the line, as sha256sum writes it, got {line[:80]!r}"
                )
            digests.add(m.group(1).lower())
    return sorted(digests)


def inputs(ctx: BuildContext) -> Any:
    return {
        "filters": ctx.config.section_json("filters"),
        "placeholders": file_signature([ctx.config.source_path("placeholders")]),
    }


def excludable_licenses(db: sqlite3.Connection, cfg: FilterConfig) -> list[str]:
    """The license codes the allow-list leaves out, of those in ``rights`` and ``unknown``
    (an image without a rights row): a handful, matched once per code, not once per image.
    A code no usable image has catches nothing, so the summary names only the codes found
    among the images caught (see :func:`run`)."""
    if not cfg.exclude_unknown_license and any(set(p) == {"*"} for p in cfg.licenses):
        return []  # the default: a glob of only "*" allows every code (no scan of rights)
    codes = {c for (c,) in db.execute("SELECT DISTINCT license FROM rights")}
    codes.add(licenses.UNKNOWN)
    out = {c for c in codes if not licenses.allowed(c, cfg.licenses)}
    if cfg.exclude_unknown_license:
        out.add(licenses.UNKNOWN)
    return sorted(out)


# what each filter says of a caught image (over temp.caught c), and when it applies
_FILTERS = (
    (
        "image_placeholder",
        "'source sha256 ' || c.source_sha256 || ' is a known placeholder'",
        "c.source_sha256 IN (SELECT sha256 FROM temp.placeholders)",
    ),
    (
        "image_too_small",
        "c.width || 'x' || c.height || ': a side under filters.min_side ' || :min_side",
        "MIN(c.width, c.height) < :min_side",
    ),
    (
        "image_aspect_extreme",
        "c.width || 'x' || c.height || ': aspect ratio over filters.max_aspect_ratio ' "
        "|| :max_aspect",
        "MAX(c.width, c.height) > :max_aspect * MIN(c.width, c.height)",
    ),
    (
        "image_blank",
        "'pixel standard deviation ' || c.pixel_std || ' under filters.min_pixel_std ' || :min_std",
        "c.pixel_std < :min_std",
    ),
    (
        "license_excluded",
        "CASE WHEN c.license IS NULL THEN 'no license known (filters.exclude_unknown_license)' "
        "ELSE c.license || ' is not in filters.licenses' END",
        "COALESCE(c.license, :unknown) IN (SELECT code FROM temp.excludable)",
    ),
)


def run(ctx: BuildContext) -> dict[str, Any]:
    """One pass over the usable images (``images ⨝ encoded ⨝ rights``, each probe a text-id
    search) copies those any filter catches into ``temp.caught`` (a few, in the pass's
    order); each filter then records its rejects from there, in that order, as one pass
    per filter did."""
    cfg = ctx.config.filters
    db = ctx.db
    digests = placeholder_digests(cfg, ctx.config.source_path("placeholders"))
    params = {
        "min_side": cfg.min_side,
        "max_aspect": cfg.max_aspect_ratio,
        "min_std": cfg.min_pixel_std,
        "unknown": licenses.UNKNOWN,
    }
    with builddb.transaction(db):
        db.execute("DELETE FROM rejects WHERE stage = ?", (NAME,))
        db.execute("CREATE TEMP TABLE IF NOT EXISTS placeholders (sha256 TEXT PRIMARY KEY)")
        db.execute("DELETE FROM temp.placeholders")
        db.executemany(
            "INSERT OR IGNORE INTO temp.placeholders VALUES (?)", [(d,) for d in digests]
        )
        db.execute("CREATE TEMP TABLE IF NOT EXISTS excludable (code TEXT PRIMARY KEY)")
        db.execute("DELETE FROM temp.excludable")
        excludable = excludable_licenses(db, cfg)
        db.executemany("INSERT INTO temp.excludable VALUES (?)", [(c,) for c in excludable])
        # without a license to leave out, the pass reads encoded alone: SQLite drops the
        # unused LEFT JOIN of rights, and probes images only for an image a filter catches
        filters = [f for f in _FILTERS if excludable or f[0] != "license_excluded"]
        db.execute("DROP TABLE IF EXISTS temp.caught")
        db.execute(
            "CREATE TEMP TABLE caught AS SELECT * FROM (SELECT i.treeoflife_id AS treeoflife_id, "
            "e.source_sha256 AS source_sha256, e.width AS width, e.height AS height, "
            f"e.pixel_std AS pixel_std, {'r.license' if excludable else 'NULL'} AS license "
            f"{_READ}) c WHERE " + " OR ".join(f"({when})" for _, _, when in filters),
            params,
        )
        for reason, detail, when in filters:
            db.execute(
                _INSERT + f"c.treeoflife_id, '{NAME}', '{reason}', 'dropped', {detail} "
                f"FROM temp.caught c WHERE {when} ORDER BY c.rowid",
                params,
            )
        excluded = sorted(
            code
            for (code,) in db.execute(
                "SELECT DISTINCT COALESCE(c.license, :unknown) FROM temp.caught c "
                "WHERE COALESCE(c.license, :unknown) IN (SELECT code FROM temp.excludable)",
                params,
            )
        )
        db.execute("DROP TABLE temp.caught")
    return _summary(ctx, excluded)


def _summary(ctx: BuildContext, excluded: list[str]) -> dict[str, Any]:
    db = ctx.db
    reasons = dict(
        db.execute(
            "SELECT reason, COUNT(*) FROM rejects WHERE stage = ? GROUP BY 1 ORDER BY 1", (NAME,)
        )
    )
    (dropped,) = db.execute(
        "SELECT COUNT(DISTINCT item) FROM rejects WHERE stage = ?", (NAME,)
    ).fetchone()
    ctx.log(
        f"filter: {dropped} images left out"
        + (f" (licenses left out: {', '.join(excluded)})" if excluded else "")
        + "".join(f"\n  {k}: {v}" for k, v in reasons.items())
    )
    return {"dropped": dropped, "rejects": reasons, "licenses_excluded": excluded}


STAGE = Stage(
    NAME,
    "leave out images by license and quality ([filters]), before the split",
    run,
    inputs,
)
