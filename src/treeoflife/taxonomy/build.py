"""Load exactly what the labels need from every reference, in the order the needs unfold.

1. clean every label (one gnparser call per unique name) -> page ids and (name, rank) keys;
2. scraped names of the wanted pages -> more keys;
3. the DH, streamed once -> candidates by page and by name; the names those lineages end
   in are added so ITIS and iNaturalist can give their common names;
4. the Catalogue of Life (ColDP) and the GBIF backbone -> candidates by name, and the
   names their lineages end in, likewise;
5. ITIS, iNaturalist taxa, resolved.jsonl -> candidates by name;
6. vernacular files -> common names for the candidates' records only.

Only the references ``[taxonomy] references`` lists are read, and their candidates are
merged in its order (the resolver's trust order). A missing file means that reference is
absent (logged); a malformed one is a TolError. Each reference's candidates go to disk
(:class:`~treeoflife.taxonomy.candidates.CandidateStore`) as soon as it is read, so the
process never holds more than one reference's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from treeoflife.config import Config
from treeoflife.taxonomy import names
from treeoflife.taxonomy.candidates import CandidateStore
from treeoflife.taxonomy.lineage import lowest, name_at
from treeoflife.taxonomy.loaders import (
    coldp,
    eol_dh,
    eol_scraped,
    eol_vernacular,
    gbif_backbone,
    inat_dwca,
    itis,
    resolved_jsonl,
)
from treeoflife.taxonomy.query import LabelQuery
from treeoflife.taxonomy.reference import (
    COL,
    COL_VERNACULAR,
    EOL_DH,
    EOL_VERNACULAR,
    GBIF,
    GBIF_VERNACULAR,
    INAT,
    ITIS,
    REFERENCE_NAMES,
    RESOLVED,
    Candidate,
    NameKey,
    name_key,
)
from treeoflife.taxonomy.resolver import References

# path name in config.SourcePaths for each reference file the resolve stage reads
REFERENCE_FILES: tuple[str, ...] = (
    "eol_dh",
    "eol_scraped",
    "eol_vernacular",
    "itis_chains",
    "inat_taxa",
    "inat_vernacular",
    "resolved",
    "col_name_usage",
    "col_vernacular",
    "gbif_backbone",
    "gbif_vernacular",
)
# the [paths] files each [taxonomy] references entry reads
REFERENCE_PATHS: dict[str, tuple[str, ...]] = {
    "eol_dh": ("eol_dh", "eol_scraped", "eol_vernacular"),
    "itis": ("itis_chains",),
    "inat": ("inat_taxa", "inat_vernacular"),
    "resolved": ("resolved",),
    "col": ("col_name_usage", "col_vernacular"),
    "gbif": ("gbif_backbone", "gbif_vernacular"),
}


def reference_paths(cfg: Config) -> dict[str, Path]:
    """The reference files the configured references read, by their [paths] name."""
    used = {p for ref in cfg.taxonomy.references for p in REFERENCE_PATHS[ref]}
    return {name: cfg.source_path(name) for name in REFERENCE_FILES if name in used}


@dataclass
class LoadReport:
    absent: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def load_references(
    cfg: Config,
    queries: Collection[LabelQuery],
    log: Callable[[str], None] = lambda _m: None,
    progress: Callable | None = None,
) -> tuple[References, LoadReport]:
    """Everything the resolver needs for these labels, and which references were absent.

    ``queries`` is read twice (the page ids, then the names): a list, or the stage's
    :class:`~treeoflife.taxonomy.query.StoredQueries`."""
    paths = reference_paths(cfg)
    report = LoadReport()

    def present(name: str) -> Path | None:
        p = paths.get(name)
        if p is None:  # its reference is not in [taxonomy] references
            return None
        if p.is_file():
            return p
        report.absent.append(name)
        log(f"resolve: {name} reference absent ({p} not found)")
        return None

    pages = {q.page_id for q in queries if q.page_id is not None}
    refs = References(priority=tuple(REFERENCE_NAMES[r] for r in cfg.taxonomy.references))
    store = CandidateStore(refs.priority)
    accepted_of: dict[str, dict[str, str]] = {}  # backbone -> synonym record -> accepted id
    if (p := present("eol_scraped")) and pages:
        refs.scraped = eol_scraped.load(p, pages)
        names.parse_names(refs.scraped.values())  # in batches: the lookups below parse them
    keys: set[NameKey] = set()
    for q in queries:
        keys |= q.keys(refs.scraped.get(q.page_id, "") if q.page_id is not None else "")
    loaded: dict[str, int] = {}  # reference -> how many name candidates it gave
    if p := present("eol_dh"):
        dh = eol_dh.load(p, pages, keys, progress)
        report.rows[EOL_DH] = dh.rows
        keys |= _ending_keys(dh.by_page.values()) | _ending_keys(_all(dh.by_name))
        store.add_pages(dh.by_page)
        loaded[EOL_DH] = store.add_names(EOL_DH, dh.by_name)
        del dh
    # ColDP's and GBIF's lineages' names are wanted from the references after both
    backbone_keys: set[NameKey] = set()
    if p := present("col_name_usage"):
        col = coldp.load(p, keys, progress)
        accepted_of[COL], report.rows[COL] = col.accepted_of, col.rows
        backbone_keys |= _ending_keys(_all(col.by_name))
        loaded[COL] = store.add_names(COL, col.by_name)
        del col
    if p := present("gbif_backbone"):
        gbif = gbif_backbone.load(p, keys, progress)
        accepted_of[GBIF], report.rows[GBIF] = gbif.accepted_of, gbif.rows
        backbone_keys |= _ending_keys(_all(gbif.by_name))
        loaded[GBIF] = store.add_names(GBIF, gbif.by_name)
        del gbif
    keys |= backbone_keys
    del backbone_keys
    for name, source, load in (
        ("itis_chains", ITIS, itis.load),
        ("inat_taxa", INAT, inat_dwca.load_taxa),
        ("resolved", RESOLVED, resolved_jsonl.load),
    ):
        if p := present(name):
            loaded[source] = store.add_names(source, load(p, keys))
    del keys
    _commons(refs, store, loaded, present, pages)
    _backbone_commons(refs, store, loaded, accepted_of, present)
    refs.by_name, refs.by_page = store.indexes()
    return refs, report


def _all(index: dict[NameKey, list[Candidate]]) -> Iterator[Candidate]:
    """Every candidate of a name index, in its order."""
    return (c for cands in index.values() for c in cands)


def _ending_keys(cands: Iterable[Candidate]) -> set[NameKey]:
    """The (name, rank) each lineage ends in: what other references list its common name under."""
    out = set()
    for c in cands:
        low = lowest(c.lineage)
        name = name_at(c.lineage, low) if low >= 0 else ""
        if name:
            out.add(name_key(name, low))
    return out


def _commons(
    refs: References,
    store: CandidateStore,
    loaded: dict[str, int],
    present: Callable,
    pages: set[int],
) -> None:
    """Common names keyed on (kingdom, lowest rank, name); first record of each key wins.

    The candidates' (record, page id, common, common key) are read back from the store in
    the order the loaders found them (:meth:`CandidateStore.records`)."""
    itis_names: dict[tuple, str] = {}
    for _record, _page, common, key in store.records(ITIS):
        if common and key:
            itis_names.setdefault(key, common)
    refs.commons[ITIS] = itis_names
    if loaded.get(INAT) and (p := present("inat_vernacular")):
        names = inat_dwca.load_vernacular(p, {row[0] for row in store.records(INAT)})
        refs.commons[INAT] = {}
        for record, _page, _common, key in store.records(INAT):
            if record in names and key:
                refs.commons[INAT].setdefault(key, names[record])

    def dh_records() -> Iterator[tuple]:
        yield from store.page_records()
        yield from store.records(EOL_DH)

    wanted = pages | {row[1] for row in dh_records() if row[1]}
    if wanted and (p := present("eol_vernacular")):
        refs.page_common = eol_vernacular.load(p, wanted)
        refs.commons[EOL_VERNACULAR] = {}
        for _record, page, _common, key in dh_records():
            if page in refs.page_common and key:
                refs.commons[EOL_VERNACULAR].setdefault(key, refs.page_common[page])


def _backbone_commons(
    refs: References,
    store: CandidateStore,
    loaded: dict[str, int],
    accepted_of: dict[str, dict[str, str]],
    present: Callable,
) -> None:
    """ColDP and GBIF common names, joined like iNaturalist's: by the candidate's record,
    or, for a synonym, by its accepted taxon (vernacular names belong to accepted taxa)."""
    for source, common, vern_path, load in (
        (COL, COL_VERNACULAR, "col_vernacular", coldp.load_vernacular),
        (GBIF, GBIF_VERNACULAR, "gbif_vernacular", gbif_backbone.load_vernacular),
    ):
        if not loaded.get(source) or not (p := present(vern_path)):
            continue
        synonyms = accepted_of.get(source, {})
        ids = {row[0] for row in store.records(source)} | set(synonyms.values())
        vernacular = load(p, ids)
        refs.commons[common] = {}
        for record, _page, _common, key in store.records(source):
            name = vernacular.get(record) or vernacular.get(synonyms.get(record, ""))
            if name and key:
                refs.commons[common].setdefault(key, name)
