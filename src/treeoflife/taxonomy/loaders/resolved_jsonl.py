"""``resolved.jsonl``: names resolved by the Global Names resolver, one JSON object a line.

Each line is ``{"Genus species": {"<source title>": {rank: name, ...}}}``; each source
title's ranks are one candidate (record = the source title). The key's own genus and
epithet fill genus and species, as the reference did.
"""

from __future__ import annotations

import json
from pathlib import Path

from treeoflife.errors import TolError
from treeoflife.taxonomy.lineage import reference_lineage, truncate
from treeoflife.taxonomy.ranks import RANKS, rank_name
from treeoflife.taxonomy.reference import RESOLVED, Candidate, NameKey, add_candidate, name_key

WHAT = (
    'a resolved-names JSON Lines file (one {"Genus species": {"<source>": {rank: name}}} per line)'
)


def load(path: Path, names: set[NameKey]) -> dict[NameKey, list[Candidate]]:
    """(name, rank) -> candidates, for the wanted keys only."""
    out: dict[NameKey, list[Candidate]] = {}
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise TolError(f"{path} cannot be read ({exc}); expected {WHAT}") from None
    with fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TolError(
                    f"{path} line {number} is not JSON ({exc}); expected {WHAT}"
                ) from None
            if not isinstance(record, dict):
                raise TolError(f"{path} line {number} is not a JSON object; expected {WHAT}")
            for scientific, by_source in record.items():
                _add(out, names, str(scientific), by_source, path, number)
    return out


def _add(
    out: dict, names: set[NameKey], scientific: str, by_source: object, path: Path, number: int
) -> None:
    words = scientific.split()
    rank = len(RANKS) - 1 if len(words) >= 2 else len(RANKS) - 2
    key = name_key(" ".join(words[:2]), rank)
    if key not in names:
        return
    if not isinstance(by_source, dict):
        raise TolError(
            f"{path} line {number}: the value of {scientific!r} must map source titles to rank objects"
        )
    for title, ranks in by_source.items():
        if not isinstance(ranks, dict):
            raise TolError(
                f"{path} line {number}: {scientific!r} / {title!r} must be an object of rank: name"
            )
        values = {}
        for k, v in ranks.items():
            r = rank_name(str(k))
            if r is not None and isinstance(v, str):
                values[r] = v
        values["genus"] = words[0]
        values["species"] = " ".join(words[:2]) if len(words) >= 2 else ""
        lineage = truncate(reference_lineage(values), rank)
        add_candidate(out, key, Candidate(lineage, RESOLVED, str(title)))
