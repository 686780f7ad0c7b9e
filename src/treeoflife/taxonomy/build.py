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
absent (logged); a malformed one is a TolError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from treeoflife.config import Config
from treeoflife.taxonomy import names
from treeoflife.taxonomy.lineage import common_key, lowest, name_at
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
    queries: Iterable[LabelQuery],
    log: Callable[[str], None] = lambda _m: None,
    progress: Callable | None = None,
) -> tuple[References, LoadReport]:
    """Everything the resolver needs for these labels, and which references were absent."""
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

    queries = list(queries)
    pages = {q.page_id for q in queries if q.page_id is not None}
    refs = References(priority=tuple(REFERENCE_NAMES[r] for r in cfg.taxonomy.references))
    accepted_of: dict[str, dict[str, str]] = {}  # backbone -> synonym record -> accepted id
    if (p := present("eol_scraped")) and pages:
        refs.scraped = eol_scraped.load(p, pages)
        names.parse_names(refs.scraped.values())  # in batches: the lookups below parse them
    keys: set[NameKey] = set()
    for q in queries:
        keys |= q.keys(refs.scraped.get(q.page_id, "") if q.page_id is not None else "")
    by_name: dict[str, dict[NameKey, list[Candidate]]] = {}
    if p := present("eol_dh"):
        dh = eol_dh.load(p, pages, keys, progress)
        refs.by_page = dh.by_page
        by_name[EOL_DH] = dh.by_name
        report.rows[EOL_DH] = dh.rows
        keys |= _ending_keys(
            list(dh.by_page.values()) + [c for cs in dh.by_name.values() for c in cs]
        )
    if p := present("col_name_usage"):
        col = coldp.load(p, keys, progress)
        by_name[COL], accepted_of[COL], report.rows[COL] = col.by_name, col.accepted_of, col.rows
    if p := present("gbif_backbone"):
        gbif = gbif_backbone.load(p, keys, progress)
        by_name[GBIF], accepted_of[GBIF] = gbif.by_name, gbif.accepted_of
        report.rows[GBIF] = gbif.rows
    for source in (COL, GBIF):
        keys |= _ending_keys([c for cs in by_name.get(source, {}).values() for c in cs])
    if p := present("itis_chains"):
        by_name[ITIS] = itis.load(p, keys)
    if p := present("inat_taxa"):
        by_name[INAT] = inat_dwca.load_taxa(p, keys)
    if p := present("resolved"):
        by_name[RESOLVED] = resolved_jsonl.load(p, keys)
    _commons(refs, by_name, paths, present, pages)
    _backbone_commons(refs, by_name, accepted_of, present)
    refs.by_name = _merge(by_name, refs.priority)
    return refs, report


def _merge(
    by_name: dict[str, dict[NameKey, list[Candidate]]], priority: tuple[str, ...]
) -> dict[NameKey, list[Candidate]]:
    """One index over every reference's candidates, in trust order.

    Consumes ``by_name``: each key's first list is taken over and extended rather than
    copied, so the candidates' lists are never held twice.
    """
    merged: dict[NameKey, list[Candidate]] = {}
    for source in priority:
        for key, cands in by_name.pop(source, {}).items():
            found = merged.get(key)
            if found is None:
                merged[key] = cands
            else:
                found.extend(cands)
    return merged


def _ending_keys(cands: list[Candidate]) -> set[NameKey]:
    """The (name, rank) each lineage ends in: what other references list its common name under."""
    out = set()
    for c in cands:
        low = lowest(c.lineage)
        name = name_at(c.lineage, low) if low >= 0 else ""
        if name:
            out.add(name_key(name, low))
    return out


def _commons(
    refs: References, by_name: dict, paths: dict, present: Callable, pages: set[int]
) -> None:
    """Common names keyed on (kingdom, lowest rank, name); first record of each key wins."""

    def all_cands(source: str) -> list[Candidate]:
        return [c for cs in by_name.get(source, {}).values() for c in cs]

    itis_names: dict[tuple, str] = {}
    for c in all_cands(ITIS):
        if c.common and (key := common_key(c.lineage)):
            itis_names.setdefault(key, c.common)
    refs.commons[ITIS] = itis_names
    inat_cands = all_cands(INAT)
    if inat_cands and (p := present("inat_vernacular")):
        names = inat_dwca.load_vernacular(p, {c.record for c in inat_cands})
        refs.commons[INAT] = {}
        for c in inat_cands:
            if c.record in names and (key := common_key(c.lineage)):
                refs.commons[INAT].setdefault(key, names[c.record])
    dh_cands = list(refs.by_page.values()) + all_cands(EOL_DH)
    wanted = pages | {c.page_id for c in dh_cands if c.page_id}
    if wanted and (p := present("eol_vernacular")):
        refs.page_common = eol_vernacular.load(p, wanted)
        refs.commons[EOL_VERNACULAR] = {}
        for c in dh_cands:
            if c.page_id in refs.page_common and (key := common_key(c.lineage)):
                refs.commons[EOL_VERNACULAR].setdefault(key, refs.page_common[c.page_id])


def _backbone_commons(
    refs: References,
    by_name: dict[str, dict[NameKey, list[Candidate]]],
    accepted_of: dict[str, dict[str, str]],
    present: Callable,
) -> None:
    """ColDP and GBIF common names, joined like iNaturalist's: by the candidate's record,
    or, for a synonym, by its accepted taxon (vernacular names belong to accepted taxa)."""
    for source, common, vern_path, load in (
        (COL, COL_VERNACULAR, "col_vernacular", coldp.load_vernacular),
        (GBIF, GBIF_VERNACULAR, "gbif_vernacular", gbif_backbone.load_vernacular),
    ):
        cands = [c for cs in by_name.get(source, {}).values() for c in cs]
        if not cands or not (p := present(vern_path)):
            continue
        synonyms = accepted_of.get(source, {})
        ids = {c.record for c in cands} | set(synonyms.values())
        names = load(p, ids)
        refs.commons[common] = {}
        for c in cands:
            name = names.get(c.record) or names.get(synonyms.get(c.record, ""))
            if name and (key := common_key(c.lineage)):
                refs.commons[common].setdefault(key, name)
