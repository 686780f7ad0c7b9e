"""The Rare Species benchmark holdout: which images must not be trained on.

Two lists, two key formats (the reference compared the second against ``Genus species``
strings, so its holdout never matched):

- ``seen_in_training.json``: ``{"Genus species": [image paths]}`` — the listed EOL
  images themselves, matched on the file name of ``images.member``
  (``<content>_<page>_eol-full-size-copy.jpg``).
- ``unseen_in_training.json``: ``{"Kingdom-Phylum-Class-Order-Family-Genus-species":
  [paths]}`` — every image of that species from any source, matched on the resolved
  lineage by (kingdom, genus, species): the kingdom keeps homonyms apart, and the middle
  ranks are left out because references classify them differently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from treeoflife.errors import TolError
from treeoflife.taxonomy.lineage import Lineage
from treeoflife.taxonomy.ranks import RANKS, normalise_kingdom

SEEN = "rare species (seen in training): listed image"
UNSEEN = "rare species (unseen in training): species held out"

SpeciesKey = tuple[str, str, str]  # (kingdom, genus, epithet), lower case


@dataclass
class Holdout:
    seen_files: set[str] = field(default_factory=set)  # image file names
    unseen: set[SpeciesKey] = field(default_factory=set)


def species_key(lineage: Lineage) -> SpeciesKey | None:
    """(kingdom, genus, species) of a lineage, or None when any of them is unknown."""
    kingdom, genus, species = lineage[0], lineage[-2], lineage[-1]
    if not (kingdom and genus and species):
        return None
    return (normalise_kingdom(kingdom).lower(), genus.lower(), species.lower())


def parse_unseen_key(key: str) -> SpeciesKey | None:
    """``Kingdom-Phylum-Class-Order-Family-Genus-species`` -> (kingdom, genus, species).

    The species part may itself contain a hyphen, so the key is split six times.
    """
    parts = key.strip().split("-", len(RANKS) - 1)
    if len(parts) != len(RANKS) or not parts[0] or not parts[-2] or not parts[-1]:
        return None
    species = parts[-1].split()[-1]  # "Genus species" or "species"
    return (normalise_kingdom(parts[0]).lower(), parts[-2].strip().lower(), species.lower())


def _read(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TolError(f"{path} is not readable as {what}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise TolError(
            f"{path} is not {what}: expected a JSON object of name -> list of image paths"
        )
    return data


def load(seen_path: Path | None, unseen_path: Path | None) -> tuple[Holdout, list[str]]:
    """The holdout lists (absent files = empty), and unseen keys that could not be parsed."""
    holdout = Holdout()
    bad: list[str] = []
    if seen_path is not None and seen_path.is_file():
        for paths in _read(
            seen_path, 'a seen_in_training.json ({"Genus species": [image paths]})'
        ).values():
            holdout.seen_files.update(str(p).replace("\\", "/").rsplit("/", 1)[-1] for p in paths)
    if unseen_path is not None and unseen_path.is_file():
        for key in _read(
            unseen_path, 'an unseen_in_training.json ({"Kingdom-...-Genus-species": [image paths]})'
        ):
            parsed = parse_unseen_key(key)
            if parsed is None:
                bad.append(key)
            else:
                holdout.unseen.add(parsed)
    return holdout, bad


def unseen_species(holdout: Holdout, lineage: Lineage) -> bool:
    """Whether the lineage is of a species held out with all its images."""
    key = species_key(lineage)
    return key is not None and key in holdout.unseen


def file_name(member: str) -> str:
    """The file name a seen-in-training entry is matched on: the member's last path part."""
    return member.rsplit("/", 1)[-1]


def reason(holdout: Holdout, member: str, lineage: Lineage) -> str | None:
    """Why an image is held out, or None (the rule the resolve stage applies in SQL)."""
    if file_name(member) in holdout.seen_files:
        return SEEN
    if unseen_species(holdout, lineage):
        return UNSEEN
    return None
