"""The Rare Species lists (``rarespecies/{seen,unseen}_in_training.json``).

They name EOL image members: every member of an ``unseen`` species, and the first member
(in archive order, then name order) of each ``seen`` species. A build holds out every image
a list names, and every image of an ``unseen`` species from any source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from treeoflife.sample import formats
from treeoflife.sample.taxa import RANKS, Taxon


@dataclass(frozen=True)
class RareLists:
    seen: dict[str, list[str]]  # binomial -> [member name]
    unseen: dict[str, list[str]]  # "Kingdom-...-epithet" -> member names

    def lists_member(self, member: str) -> bool:
        return any(member in v for v in (*self.seen.values(), *self.unseen.values()))


def rare_lists(members: Iterable[tuple[str, Taxon | None]]) -> RareLists:
    """The lists for EOL ``(member name, taxon)`` pairs given in archive order, then name order."""
    seen: dict[str, list[str]] = {}
    unseen: dict[str, list[str]] = {}
    for name, t in members:
        if t is None:
            continue
        if t.has("unseen"):
            unseen.setdefault("-".join(t.ranks[r] for r in RANKS), []).append(name)
        if t.has("seen") and t.binomial not in seen:
            seen[t.binomial] = [name]
    return RareLists(seen, unseen)


def write(dest: Path, lists: RareLists) -> None:
    formats.write_json(dest / "rarespecies/seen_in_training.json", dict(sorted(lists.seen.items())))
    formats.write_json(
        dest / "rarespecies/unseen_in_training.json", dict(sorted(lists.unseen.items()))
    )
