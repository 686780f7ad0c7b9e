"""Resolve one label to seven ranks + common name, with the provenance of every rank.

Pure: a :class:`LabelQuery` and the loaded :class:`References` in, a :class:`Resolution`
out. The rules, in order:

1. **Ids first.** An EOL page found in the DH gives its lineage (synonyms -> accepted).
   A page missing from the DH falls back to its scraped name, then to the label's names.
2. **Names.** Lookups are keyed on (name, rank) and try the most specific name first
   (``Genus species``, then the genus, then the lowest given rank). Every candidate of
   every reference is kept.
3. **Scoring.** A candidate in another kingdom than a given kingdom is never used. The
   others are scored against the ranks the source gave: fewest disagreements first, then
   most agreements. Among the best, the most trusted reference (``[taxonomy]
   references``, :attr:`References.priority`) sets
   the lineage; a best candidate from another reference in a *different kingdom* is a
   cross-reference homonym and joins the pool.
4. **Ambiguity.** Where the pool's candidates differ at a rank, that rank stays empty
   and the label is ``ambiguous`` — never the first candidate. Ranks all candidates agree
   on are filled (so the genus Morus is kept when its kingdom is not known).
5. **Gaps** left by the chosen reference are filled from any other candidate that agrees
   with everything known so far, when all such candidates agree. An EOL page found in the
   DH has no other candidates by rule 1, so its gaps (a DH lineage with no class, say) are
   filled from the name candidates of the name its lineage ends in (ITIS, iNaturalist,
   resolved.jsonl) that give every rank the page and the source give, identically; where
   those differ at a gap, it stays empty.
6. **Given ranks win.** A rank the source gave is never overwritten; a reference that
   disagrees is recorded as a conflict (reason ``label_conflict``).
7. **Common name**: the source's own, else ITIS, iNaturalist, EOL (by the label's EOL
   page first), each joined on (kingdom, lowest rank, name) so homonyms never share one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from treeoflife.taxonomy import names
from treeoflife.taxonomy.candidates import NameIndex, PageIndex
from treeoflife.taxonomy.lineage import (
    GENUS_INDEX,
    SPECIES_INDEX,
    Lineage,
    common_key,
    lowest,
    name_at,
    same,
)
from treeoflife.taxonomy.query import LabelQuery
from treeoflife.taxonomy.ranks import RANKS
from treeoflife.taxonomy.reference import (
    COL_VERNACULAR,
    EOL_DH,
    EOL_SCRAPED,
    EOL_VERNACULAR,
    GBIF_VERNACULAR,
    INAT,
    INAT_VERNACULAR,
    ITIS,
    NAME_PRIORITY,
    PROVISIONAL,
    SYNONYM,
    Candidate,
    NameKey,
    name_key,
)

RESOLVED, PARTIAL, AMBIGUOUS, UNRESOLVED = "resolved", "partial", "ambiguous", "unresolved"
STATUSES = (RESOLVED, PARTIAL, AMBIGUOUS, UNRESOLVED)
COMMON_PRIORITY = (ITIS, INAT, EOL_VERNACULAR, COL_VERNACULAR, GBIF_VERNACULAR)


@dataclass
class References:
    """Everything the loaders found that the labels need.

    ``by_page`` and ``by_name`` are read with ``get`` only: dicts, or a build's on-disk
    look-ups (:mod:`treeoflife.taxonomy.candidates`)."""

    by_page: dict[int, Candidate] | PageIndex = field(default_factory=dict)
    scraped: dict[int, str] = field(default_factory=dict)
    by_name: dict[NameKey, list[Candidate]] | NameIndex = field(default_factory=dict)
    # common-name source -> common_key -> English name
    commons: dict[str, dict[tuple, str]] = field(default_factory=dict)
    page_common: dict[int, str] = field(default_factory=dict)  # EOL page -> English name
    # reference names, most trusted first (``[taxonomy] references``)
    priority: tuple[str, ...] = NAME_PRIORITY


@dataclass
class Resolution:
    label_key: str
    ranks: Lineage
    common: str
    status: str
    provenance: dict[str, Any]
    conflicts: list[dict[str, str]] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)  # ranks left empty: candidates differ
    matched: bool = False  # some reference knew the label


def agreement(cand: Lineage, known: Lineage) -> tuple[int, int]:
    """(disagreements, agreements) of a candidate with the known ranks."""
    bad = good = 0
    for c, k in zip(cand, known, strict=True):
        if c and k:
            if same(c, k):
                good += 1
            else:
                bad += 1
    return bad, good


def usable(cand: Candidate, known: Lineage) -> bool:
    """A candidate in another kingdom than the known one is another taxon (a homonym)."""
    return not (cand.lineage[0] and known[0] and not same(cand.lineage[0], known[0]))


def find_candidates(query: LabelQuery, refs: References) -> tuple[list[Candidate], str]:
    """The candidates for a label, and how they were found ("" when none)."""
    if query.page_id is not None:
        hit = refs.by_page.get(query.page_id)
        if hit is not None:
            return [hit], "eol page id"
    alternatives: list[tuple[list[NameKey], str]] = []
    scraped = refs.scraped.get(query.page_id) if query.page_id is not None else None
    if scraped:
        alternatives += [(alt, f"scraped name {scraped!r}") for alt in query.lookups(scraped)]
    alternatives += [(alt, "name") for alt in query.lookups()]
    for keys, how in alternatives:
        found = [c for k in keys for c in refs.by_name.get(k, ()) if usable(c, query.given)]
        if found:
            return found, how
    return [], ""


def select(
    cands: list[Candidate], known: Lineage, priority: tuple[str, ...] = NAME_PRIORITY
) -> tuple[list[Candidate], list[Candidate]]:
    """(pool that decides the lineage, the other best-scored candidates for gap filling)."""

    if len(cands) == 1:  # an EOL page's one candidate, a name one reference knows
        return list(cands), []

    def _priority(c: Candidate) -> int:
        return priority.index(c.source) if c.source in priority else len(priority)

    # a genus found through many chains offers one lineage many times: score each once
    scores: dict[Lineage, tuple[int, int]] = {}
    scored = []
    for c in cands:
        score = scores.get(c.lineage)
        if score is None:
            score = scores[c.lineage] = agreement(c.lineage, known)
        scored.append((score, c))
    best = min((bad, -good) for (bad, good), _ in scored)
    top = [c for (bad, good), c in scored if (bad, -good) == best]
    top.sort(key=_priority)
    first = top[0].source
    pool = [c for c in top if c.source == first]
    kingdoms = {c.lineage[0].lower() for c in pool}
    pool += [
        c
        for c in top
        if c.source != first and c.lineage[0] and c.lineage[0].lower() not in kingdoms
    ]
    chosen = set(pool)  # membership by equality, as in the list, without a scan per candidate
    rest = [c for c in sorted(cands, key=_priority) if c not in chosen]
    return pool, rest


def merge(pool: list[Candidate]) -> tuple[list[str], list[Candidate | None], list[int]]:
    """Rank values the pool agrees on, down to the first rank where candidates differ.

    A name below a differing rank names a different taxon in each lineage (the genus
    Pieris of butterflies is not the genus Pieris of shrubs), so everything from the first
    difference down stays empty; those ranks are returned as the ambiguous ones.
    """
    if len(pool) == 1:  # one lineage agrees with itself: its values, nothing differs
        (cand,) = pool
        return list(cand.lineage), [cand if v else None for v in cand.lineage], []
    values: list[str] = []
    origin: list[Candidate | None] = []
    first_difference = None
    for r in range(len(RANKS)):
        seen: dict[str, Candidate] = {}
        for c in pool:
            v = c.lineage[r]
            if v and v.lower() not in seen:
                seen[v.lower()] = c
        if len(seen) > 1 and first_difference is None:
            first_difference = r
        if len(seen) == 1 and first_difference is None:
            (cand,) = seen.values()
            values.append(cand.lineage[r])
            origin.append(cand)
        else:
            values.append("")
            origin.append(None)
    differing = []
    if first_difference is not None:
        differing = [
            r for r in range(first_difference, len(RANKS)) if any(c.lineage[r] for c in pool)
        ]
    return values, origin, differing


def fill_gaps(
    values: list[str], origin: list, skip: Iterable[int], others: list[Candidate], known: Lineage
) -> None:
    """Fill empty ranks from other candidates that agree with everything known so far."""
    if not others:
        return
    skip = set(skip)
    current = tuple(k or v for k, v in zip(known, values, strict=True))
    scores: dict[Lineage, tuple[int, int]] = {}
    for c in others:
        if c.lineage not in scores:
            scores[c.lineage] = agreement(c.lineage, current)
    consistent = [c for c in others if scores[c.lineage][0] == 0 and scores[c.lineage][1] > 0]
    low = lowest(current)
    for r in range(len(RANKS)):
        if values[r] or known[r] or r in skip or r > low:
            continue
        options = {c.lineage[r].lower(): c for c in consistent if c.lineage[r]}
        if len(options) == 1:
            (cand,) = options.values()
            values[r] = cand.lineage[r]
            origin[r] = cand


def gap_ranks(values: Lineage, known: Lineage) -> list[int]:
    """Ranks above the lowest one known that neither the source nor the reference gives.

    Ranks below the lowest are not gaps: the label names a taxon at that rank, and
    nothing below it is known of it.
    """
    current = tuple(k or v for k, v in zip(known, values, strict=True))
    return [r for r in range(lowest(current)) if not current[r]]


def page_name_candidates(hit: Candidate, refs: References) -> list[Candidate]:
    """The other references' candidates for the name a page's DH lineage ends in.

    Only that name: the loaders add it for every wanted page, so all its ITIS, iNat and
    resolved.jsonl candidates are loaded whatever else the build holds. DH candidates are
    left out: which DH names are loaded depends on the build's other labels (the same
    label must resolve the same in any build), and the page's own record is the gap.
    """
    low = lowest(hit.lineage)
    name = name_at(hit.lineage, low) if low >= 0 else ""
    if not name:
        return []
    return [c for c in refs.by_name.get(name_key(name, low), ()) if c.source != EOL_DH]


def agrees_everywhere(cand: Lineage, *lineages: Lineage) -> bool:
    """True when ``cand`` gives the same value at every rank any of ``lineages`` gives.

    Stricter than :func:`agreement`'s no-disagreement: a candidate silent at a rank the
    page gives could be a homonym from a lineage that differs exactly there.
    """
    return all(c and same(c, v) for lin in lineages for c, v in zip(cand, lin, strict=True) if v)


def page_gap_fills(
    gaps: list[int], values: Lineage, known: Lineage, cands: list[Candidate]
) -> tuple[dict[int, Candidate], dict[int, list[Candidate]]]:
    """Rule 5 for a page-id hit: (gap rank -> the candidate filling it, gap rank -> the
    agreeing candidates that differ there and so leave it empty).

    ``gaps`` comes from :func:`gap_ranks`, computed first by the caller so the many pages
    without a gap never look a name up.
    """
    agreeing = [c for c in cands if agrees_everywhere(c.lineage, values, known)]
    fills: dict[int, Candidate] = {}
    differ: dict[int, list[Candidate]] = {}
    for r in gaps:
        offering = [c for c in agreeing if c.lineage[r]]
        if len({c.lineage[r].lower() for c in offering}) == 1:
            fills[r] = offering[0]
        elif offering:
            differ[r] = offering
    return fills, differ


def _given_prov(query: LabelQuery, r: int) -> dict[str, str]:
    note = query.notes.get(r, "")
    prov = {
        "source": query.source,
        "record": query.label_key,
        "how": "normalised" if note else "given",
    }
    if note:
        prov["note"] = note
    return prov


def _cand_prov(cand: Candidate, found: str) -> dict[str, str]:
    via = "synonym of the accepted taxon" if cand.how == SYNONYM else found
    prov = {"source": cand.source, "record": cand.record, "how": "filled", "via": via}
    if cand.synonym:
        prov["synonym"] = cand.synonym
    if cand.how == PROVISIONAL:
        prov["status"] = "provisional"
    return prov


def _candidates_prov(r: int, cands: Iterable[Candidate]) -> list[str]:
    """The differing values at rank ``r``, each with the reference and record giving it."""
    return sorted({f"{c.lineage[r]} ({c.source} {c.record})" for c in cands if c.lineage[r]})


def resolve(query: LabelQuery, refs: References) -> Resolution:
    """Seven ranks, common name, status and provenance of one label."""
    known = query.given
    cands, found = find_candidates(query, refs)
    provenance: dict[str, Any] = {}
    ranks = list(known)
    for r in range(len(RANKS)):
        if known[r]:
            provenance[RANKS[r]] = _given_prov(query, r)
    conflicts: list[dict[str, str]] = []
    ambiguous: list[str] = []
    if cands:
        pool, rest = select(cands, known, refs.priority)
        values, origin, differing = merge(pool)
        fill_gaps(values, origin, range(differing[0], len(RANKS)) if differing else (), rest, known)
        gap_fills: dict[int, Candidate] = {}
        if found == "eol page id" and (gaps := gap_ranks(tuple(values), known)):
            name_cands = page_name_candidates(cands[0], refs)
            gap_fills, unfilled = page_gap_fills(gaps, tuple(values), known, name_cands)
            for r, cand in gap_fills.items():
                values[r], origin[r] = cand.lineage[r], cand
            for r, differ in unfilled.items():
                provenance[RANKS[r]] = {
                    "how": "gap unfilled",
                    "candidates": _candidates_prov(r, differ),
                }
        for r in range(len(RANKS)):
            v, cand = values[r], origin[r]
            if known[r]:
                if v and not same(v, known[r]) and cand is not None:
                    conflicts.append(
                        {
                            "rank": RANKS[r],
                            "given": known[r],
                            "reference": v,
                            "source": cand.source,
                            "record": cand.record,
                        }
                    )
                    provenance[RANKS[r]]["conflict"] = f"{cand.source} {cand.record} says {v}"
                continue
            if v and cand is not None:
                ranks[r] = v
                how = "gap filled by name" if r in gap_fills else found
                provenance[RANKS[r]] = _cand_prov(cand, how)
            elif r in differing:
                ambiguous.append(RANKS[r])
                provenance[RANKS[r]] = {
                    "how": "ambiguous",
                    "candidates": _candidates_prov(r, pool),
                }
    else:
        _fill_from_name(query, ranks, provenance)
    lineage = tuple(ranks)
    common, common_prov = pick_common(query, lineage, refs, found == "eol page id")
    if common_prov:
        provenance["common"] = common_prov
    if ambiguous:
        status = AMBIGUOUS
    elif all(lineage):
        status = RESOLVED
    elif any(lineage):
        status = PARTIAL
    else:
        status = UNRESOLVED
    return Resolution(
        query.label_key, lineage, common, status, provenance, conflicts, ambiguous, bool(cands)
    )


def _fill_from_name(query: LabelQuery, ranks: list[str], provenance: dict) -> None:
    """No reference knows the label: genus and species from its own scientific name."""
    parsed = query.parsed
    prov = {
        "source": query.source,
        "record": query.label_key,
        "how": "normalised",
        "note": "from the scientific name",
    }
    if parsed.kind == names.SPECIES and (
        not ranks[GENUS_INDEX] or same(ranks[GENUS_INDEX], parsed.genus)
    ):
        for r, v in ((GENUS_INDEX, parsed.genus), (SPECIES_INDEX, parsed.epithet)):
            if not ranks[r]:
                ranks[r] = v
                provenance[RANKS[r]] = dict(prov)
    elif parsed.kind == names.HYBRID_FORMULA and parsed.genus and not ranks[GENUS_INDEX]:
        ranks[GENUS_INDEX] = parsed.genus
        provenance["genus"] = dict(prov, note="genus shared by both parents of a hybrid formula")


def pick_common(
    query: LabelQuery, lineage: Lineage, refs: References, by_page: bool
) -> tuple[str, dict]:
    """The label's common name and where it came from ("" when none is known)."""
    if query.common:
        return query.common, {"source": query.source, "record": query.label_key, "how": "given"}
    key = common_key(lineage)
    for source in COMMON_PRIORITY:
        if source == EOL_VERNACULAR and query.page_id is not None and (by_page or key is not None):
            name = refs.page_common.get(query.page_id)
            if name:
                return name, {
                    "source": EOL_VERNACULAR,
                    "record": str(query.page_id),
                    "how": "filled",
                }
        if key is None:
            continue
        name = refs.commons.get(source, {}).get(key)
        if name:
            record = f"{key[0]}/{RANKS[key[1]]}/{key[2]}"
            return name, {
                "source": INAT_VERNACULAR if source == INAT else source,
                "record": record,
                "how": "filled",
            }
    return "", {}


__all__ = [
    "AMBIGUOUS",
    "EOL_DH",
    "EOL_SCRAPED",
    "PARTIAL",
    "RESOLVED",
    "STATUSES",
    "UNRESOLVED",
    "References",
    "Resolution",
    "resolve",
]
