"""What goes into a sample: its JSON record and its member list. The ten text members come
from :func:`treeoflife.captions.sample_texts` — the one place their wording lives."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from treeoflife.captions import CAPTION_MEMBERS, NAME_MEMBERS, sample_texts
from treeoflife.columns import ID_COLUMNS
from treeoflife.taxonomy.ranks import RANKS

TEXT_MEMBERS: tuple[str, ...] = NAME_MEMBERS + CAPTION_MEMBERS


def member_suffixes() -> tuple[str, ...]:
    """Every member of a sample after ``<key>.``, in the order they are written."""
    return ("jpg", *(f"{m}.txt" for m in TEXT_MEMBERS), "txt", "json")


def sample_record(split: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The ``.json`` member: ranks, ids, provenance and source of one sample.

    Keys and value types are the same for every sample (HF ``datasets`` infers one schema
    per dataset), so provenance is carried as a JSON string.
    """
    return {
        "treeoflife_id": row["treeoflife_id"],
        "split": split,
        "taxon": {r: row[r] or "" for r in RANKS},
        "common": row["common"] or "",
        "taxon_status": row["taxon_status"],
        "provenance": row["provenance"],
        "source": row["source"],
        "identity_key": row["identity_key"],
        "container": row["container"] or "",
        "member": row["member"],
        "label_key": row["label_key"],
        "ids": {c: ("" if row[c] is None else str(row[c])) for c in ID_COLUMNS},
    }


def sample_members(
    key: str, jpeg: bytes, record: Mapping[str, Any], caption: str
) -> list[tuple[str, bytes]]:
    """All members of one sample, named ``<key>.<suffix>``, in a fixed order."""
    texts = sample_texts(record["taxon"], record["common"])
    out = [(f"{key}.jpg", jpeg)]
    out += [(f"{key}.{m}.txt", texts[m].encode()) for m in TEXT_MEMBERS]
    out.append((f"{key}.txt", texts[caption].encode()))
    out.append((f"{key}.json", json.dumps(record, sort_keys=True, ensure_ascii=False).encode()))
    return out
