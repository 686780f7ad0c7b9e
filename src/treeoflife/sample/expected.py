"""``expected.json``: what a correct build must make of every image and container."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from treeoflife.ids import treeoflife_id
from treeoflife.sample import formats
from treeoflife.sample.taxa import Taxon


@dataclass(frozen=True)
class ExpectedImage:
    """One image of the sample and its outcome in a correct build."""

    source: str
    container: str | None  # the archive holding it, or None for a loose file
    path: str  # member name in ``container``, else the path under the collection root
    identity_key: str | None  # None: the scan cannot make one (the name says nothing)
    label: dict[str, str]  # the seven ranks and "common"
    label_status: str | None  # resolved / partial / ambiguous; None: no label at all
    status: str = "ok"  # ok / kept / dropped
    reason: str | None = None  # the reject reason code, if any
    holdout: bool = False  # on a Rare Species list
    license: str = "unknown"  # the license code a correct scan records (treeoflife.licenses)

    @property
    def treeoflife_id(self) -> str | None:
        """The id a correct scan gives: published TreeOfLife-10M images keep their own id."""
        if self.identity_key is None:
            return None
        if self.source == "tol10m":
            return self.identity_key.split(":", 1)[1]
        return treeoflife_id(self.identity_key)

    def sort_key(self) -> tuple[str, str, str]:
        return (self.source, self.container or "", self.path)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "container": self.container,
            "path": self.path,
            "identity_key": self.identity_key,
            "treeoflife_id": self.treeoflife_id,
            "status": self.status,
            "reason": self.reason,
            "label": self.label,
            "label_status": self.label_status,
            "holdout": self.holdout,
            "license": self.license,
        }


@dataclass(frozen=True)
class ExpectedContainer:
    """A broken archive and how much of it a build recovers."""

    path: str
    reason: str
    members_recovered: int
    members_lost: int

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "reason": self.reason,
            "members_recovered": self.members_recovered,
            "members_lost": self.members_lost,
        }


def write(
    dest: Path,
    images: Iterable[ExpectedImage],
    containers: Sequence[ExpectedContainer],
    species: Sequence[Taxon],
) -> dict:
    """Write ``dest/expected.json`` (images sorted, so the order they come in does not matter)
    and return its totals."""
    ordered = sorted(images, key=ExpectedImage.sort_key)
    totals = {
        "images": len(ordered),
        "by_source": _count(im.source for im in ordered),
        "by_status": _count(im.status for im in ordered),
        "by_reason": _count(im.reason for im in ordered if im.reason),
        "by_label_status": _count(im.label_status for im in ordered if im.label_status),
        "holdout": sum(im.holdout for im in ordered),
        "by_license": _count(im.license for im in ordered if im.identity_key),
        "species": len(species),
        "kingdoms": sorted({t.ranks["kingdom"] for t in species}),
        "two_kingdom_genera": _two_kingdom_genera(species),
        "members_lost": sum(c.members_lost for c in containers),
    }
    formats.write_json(
        dest / "expected.json",
        {
            "format": 1,
            "images": [im.to_json() for im in ordered],
            "containers": [c.to_json() for c in containers],
            "totals": totals,
        },
    )
    return totals


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _two_kingdom_genera(species: Sequence[Taxon]) -> list[str]:
    kingdoms: dict[str, set[str]] = {}
    for t in species:
        kingdoms.setdefault(t.ranks["genus"], set()).add(t.ranks["kingdom"])
    return sorted(g for g, ks in kingdoms.items() if len(ks) > 1)
