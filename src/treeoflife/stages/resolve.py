"""Resolve (the reference's make_metadata): every label -> seven ranks + common name.

Fills ``taxa`` (with per-rank provenance), ``holdout`` and the label rejects
(``label_ambiguous``, ``label_conflict``, ``label_unresolved``, ``rare_species_holdout``,
one row per image). ``split`` runs after it (a taxon-unit split needs the resolved ranks)
and writes the predicted catalog (:mod:`treeoflife.reports.predicted`).
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from treeoflife import builddb
from treeoflife.stages import BuildContext, Stage, file_signature
from treeoflife.taxonomy import holdout as rare
from treeoflife.taxonomy.build import LoadReport, load_references, reference_paths
from treeoflife.taxonomy.lineage import GENUS_INDEX
from treeoflife.taxonomy.query import StoredQueries
from treeoflife.taxonomy.ranks import label_text
from treeoflife.taxonomy.resolver import AMBIGUOUS, STATUSES, UNRESOLVED, Resolution, resolve

NAME = "resolve"
# The build database's 256 MiB page cache would fill while the taxa table is replaced,
# on top of the references held in memory then; taxa rows go in in key order (appends),
# so a small cache writes them as fast. The per-image holdout pass after it, which looks
# taxa up at random, has the full cache back (and the references are gone by then).
RESOLVE_PAGE_CACHE_KIB = 16 * 1024
# json.dumps(..., sort_keys=True, ensure_ascii=False) makes this encoder on every call
_PROVENANCE_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode


def inputs(ctx: BuildContext) -> Any:
    cfg = ctx.config
    files = list(reference_paths(cfg).values()) + [
        cfg.source_path("rare_seen"),
        cfg.source_path("rare_unseen"),
    ]
    # the version changes when the resolver resolves the same inputs differently, so an
    # existing build re-resolves (2: an EOL page's lineage gaps filled from name candidates;
    # 3: ColDP and GBIF backbones, synonyms named in the provenance)
    return {
        "files": file_signature(files),
        "taxonomy": cfg.section_json("taxonomy"),
        "version": 3,
    }


def _bar(ctx: BuildContext, **kw: Any) -> tqdm:
    return tqdm(disable=ctx.progress is False if ctx.progress is not None else None, **kw)


def run(ctx: BuildContext) -> dict[str, Any]:
    db, cfg = ctx.db, ctx.config
    # read first: the labels whose species is held out unseen are picked as they resolve
    holdout, bad_keys = rare.load(cfg.source_path("rare_seen"), cfg.source_path("rare_unseen"))
    with builddb.transaction(db):
        with _page_cache(db, RESOLVE_PAGE_CACHE_KIB):
            db.execute("DELETE FROM taxa")
            db.execute("DELETE FROM holdout")
            db.execute("DELETE FROM rejects WHERE stage=?", (NAME,))
            with _no_cycle_collection():
                tally, report = _resolve_into_taxa(ctx, holdout)
        for key in bad_keys:
            ctx.log(
                f"resolve: unseen_in_training key {key!r} is not Kingdom-Phylum-Class-Order-Family-Genus-species; ignored"
            )
        held = _record_holdout(db, holdout, tally.unseen_labels)
        _record_label_rejects(db, tally.label_rejects)
    statuses, conflicts = tally.statuses, tally.conflicts
    labels = sum(statuses.values())
    summary = {
        "labels": labels,
        **{s: statuses.get(s, 0) for s in STATUSES},
        "conflicts": conflicts,
        "holdout": held,
        "absent_references": report.absent,
    }
    ctx.log(
        f"resolve: {labels} labels — resolved {statuses.get('resolved', 0)}, partial {statuses.get('partial', 0)}, "
        f"ambiguous {statuses.get('ambiguous', 0)}, unresolved {statuses.get('unresolved', 0)}; "
        f"{conflicts} with conflicts; {held} images held out (rare species)\n"
        f"  references absent: {', '.join(report.absent) or 'none'}"
    )
    return summary


@contextmanager
def _page_cache(db: Any, kib: int) -> Iterator[None]:
    """Run with SQLite's page cache capped at ``kib`` KiB, then restore the connection's own."""
    (before,) = db.execute("PRAGMA cache_size").fetchone()
    db.execute(f"PRAGMA cache_size=-{int(kib)}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA cache_size={int(before)}")


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Run without Python's cyclic garbage collector, then turn it back on as it was.

    Loading the references and resolving the labels hold millions of objects (candidates,
    lineages, queries) and make millions more; every so often the collector walks all the
    live ones looking for cycles, and there are none to find (these are plain tuples,
    dicts and dataclasses, freed by reference counting as before): ~3 s of resolve's 18 s
    at 1M, more with more labels. Memory is unchanged.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Tally:
    """What the summary and the label rejects need of the resolutions streamed into ``taxa``."""

    statuses: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    label_rejects: list[tuple[str, str, str]] = field(default_factory=list)  # key, reason, detail
    # labels whose species is held out with all its images (few: one per listed species)
    unseen_labels: list[str] = field(default_factory=list)


def _resolve_into_taxa(ctx: BuildContext, holdout: rare.Holdout) -> tuple[_Tally, LoadReport]:
    """Resolve every label and insert its ``taxa`` row as soon as it is resolved.

    The 400K-odd resolutions of a full build (a provenance dict per rank each) would take
    most of a GiB held in a list; streamed, nothing a label is held: its query waits on
    disk (StoredQueries) and so do the references' candidates
    (:mod:`treeoflife.taxonomy.candidates`); both are gone when this returns, before the
    per-image holdout pass.
    """
    db, cfg = ctx.db, ctx.config
    (count,) = db.execute("SELECT COUNT(*) FROM labels").fetchone()
    rows = db.execute("SELECT label_key, source, given FROM labels ORDER BY label_key")
    queries = StoredQueries(
        (k, s, json.loads(g))
        for k, s, g in _bar(
            ctx, desc="resolve: clean names", unit=" labels", iterable=rows, total=count
        )
    )
    refs, report = load_references(
        cfg,
        queries,
        log=ctx.log,
        progress=lambda it: _bar(ctx, desc="resolve: read references", unit=" rows", iterable=it),
    )
    results = (
        resolve(q, refs)
        for q in _bar(ctx, desc="resolve: labels", unit=" labels", iterable=queries)
    )
    tally = _Tally()
    db.executemany(
        "INSERT INTO taxa VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _taxa_rows(results, tally, holdout),
    )
    queries.close()
    return tally, report


class _Texts(dict):
    """``label_text`` of each value, computed once: labels repeat the same higher names
    (genus and species, nearly one a label, are not kept)."""

    def __missing__(self, value: str) -> str:
        text = self[value] = label_text(value)
        return text


def _taxa_rows(
    results: Iterable[Resolution], tally: _Tally, holdout: rare.Holdout
) -> Iterator[tuple]:
    """The ``taxa`` row of each resolution, counting it in ``tally`` on the way."""
    texts = _Texts()
    for r in results:
        tally.statuses[r.status] += 1
        tally.conflicts += bool(r.conflicts)
        tally.label_rejects.extend(
            (r.label_key, reason, detail) for reason, detail in _label_rejects(r)
        )
        # references' names too
        ranks = (
            *map(texts.__getitem__, r.ranks[:GENUS_INDEX]),
            *map(label_text, r.ranks[GENUS_INDEX:]),
        )
        if holdout.unseen and rare.unseen_species(holdout, ranks):
            tally.unseen_labels.append(r.label_key)
        yield (
            r.label_key,
            *ranks,
            label_text(r.common),
            r.status,
            _PROVENANCE_JSON(r.provenance),
        )


def _record_holdout(db: Any, holdout: rare.Holdout, unseen_labels: list[str]) -> int:
    """Hold out the rare-species images, judged on the ranks just written to ``taxa``.

    The listed files: one pass over ``images`` in table order (walking it in id order
    would read the table at random) against a temporary table of the listed file names,
    sorting only the held-out rows (``+``: not by walking the id index). The file name is taken in Python only for members
    with a directory part (an archive's EOL members are bare names) that end as every
    listed name ends (``_eol-full-size-copy.jpg``), so a Python call is rare. The unseen
    species: their labels' images, through the label index (a few labels, not a probe per
    image).
    """
    db.create_function("tol_file_name", 1, rare.file_name, deterministic=True)
    for table, column, values in (
        ("holdout_seen", "name", holdout.seen_files),
        ("holdout_unseen", "label_key", unseen_labels),
    ):
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({column} TEXT PRIMARY KEY)")
        db.execute(f"DELETE FROM {table}")
        db.executemany(f"INSERT INTO {table} VALUES (?)", ((v,) for v in values))
    suffix = _common_suffix(holdout.seen_files)
    ends = "substr(member, -:n) = :suffix AND " if suffix else ""
    seen = f"(member IN holdout_seen OR instr(member, '/') AND {ends}tol_file_name(member) IN holdout_seen)"
    db.execute(
        f"""INSERT INTO holdout
            SELECT treeoflife_id, reason FROM (
                SELECT treeoflife_id, :seen AS reason FROM images WHERE {seen}
                UNION ALL
                SELECT treeoflife_id, :unseen FROM images INDEXED BY images_by_label
                WHERE label_key IN holdout_unseen AND NOT {seen})
            ORDER BY +treeoflife_id""",
        {"seen": rare.SEEN, "unseen": rare.UNSEEN, "n": len(suffix), "suffix": suffix},
    )
    db.execute(
        "INSERT OR REPLACE INTO rejects SELECT treeoflife_id, ?, 'rare_species_holdout', 'dropped', reason, NULL FROM holdout ORDER BY treeoflife_id",
        (NAME,),
    )
    db.execute("DROP TABLE temp.holdout_seen")
    db.execute("DROP TABLE temp.holdout_unseen")
    (held,) = db.execute("SELECT COUNT(*) FROM holdout").fetchone()
    return held


def _common_suffix(values: Iterable[str]) -> str:
    """The longest string every value ends with ("" for none, or no values)."""
    out: str | None = None
    for v in values:
        if out is None:
            out = v
        while out and not v.endswith(out):
            out = out[1:]
    return out or ""


def _record_label_rejects(db: Any, label_rejects: list[tuple[str, str, str]]) -> None:
    """One reject row per image of each label that has one, in one statement: labels in
    the order given, each label's images in table order."""
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS label_rejects "
        "(seq INTEGER PRIMARY KEY, label_key TEXT, reason TEXT, detail TEXT)"
    )
    db.execute("DELETE FROM label_rejects")
    db.executemany(
        "INSERT INTO label_rejects (label_key, reason, detail) VALUES (?, ?, ?)", label_rejects
    )
    db.execute(
        """INSERT OR REPLACE INTO rejects
           SELECT i.treeoflife_id, ?, t.reason, 'kept', t.detail, NULL
           FROM label_rejects t JOIN images i INDEXED BY images_by_label ON i.label_key = t.label_key
           ORDER BY t.seq, i.rowid""",
        (NAME,),
    )
    db.execute("DROP TABLE temp.label_rejects")


def _label_rejects(r: Resolution) -> list[tuple[str, str]]:
    """(reason, detail) rows each image of this label gets."""
    out = []
    if r.status == AMBIGUOUS:
        out.append(
            ("label_ambiguous", f"{r.label_key}: candidates differ at {', '.join(r.ambiguous)}")
        )
    if r.conflicts:
        detail = "; ".join(
            f"{c['rank']} given {c['given']}, {c['source']} {c['record']} says {c['reference']}"
            for c in r.conflicts
        )
        out.append(("label_conflict", f"{r.label_key}: {detail}"))
    if not r.matched and r.status in (UNRESOLVED, "partial"):
        out.append(("label_unresolved", f"{r.label_key}: no reference knows this label"))
    return out


STAGE = Stage(
    NAME, "resolve every label to seven ranks + common name; hold out rare species", run, inputs
)
