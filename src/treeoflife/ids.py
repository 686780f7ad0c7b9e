"""The treeoflife_id scheme: a UUIDv5 of an image's identity key, so ids are stable.

The identity key names the image in its source's own terms (an EOL content id and page
id, an iNat21 class folder and file name, ...), never a path on this machine, so the same
collection gives the same ids on any machine, and moving or repacking archives does not
change them. Each source adapter builds its key with :func:`identity_key`.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it changes every id of every dataset built with this tool.
TREEOFLIFE_NAMESPACE = uuid.UUID("6f0d3c1e-5b0a-5a8e-9c55-7472656f666c")


def identity_key(source: str, *parts: object) -> str:
    """``source:part1/part2/...`` — the text an id is derived from."""
    if not parts:
        raise ValueError("an identity key needs at least one part")
    return f"{source}:" + "/".join(str(p) for p in parts)


def treeoflife_id(key: str) -> str:
    """The treeoflife_id for an identity key (lower-case canonical UUID text)."""
    return str(uuid.uuid5(TREEOFLIFE_NAMESPACE, key))
