"""Seeds and made-up ids. Every choice the sample makes is a SHA-256 of a fixed string, so it
does not depend on anything generated before it; the one exception is :class:`ContentIds`.
"""

from __future__ import annotations

import hashlib
import uuid


def h(*parts: object) -> int:
    """A 64-bit number from ``parts`` (joined with "/"): the seed of one choice."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


def fake_uuid(*parts: object) -> str:
    """A version-4-shaped UUID string from ``parts``."""
    return str(
        uuid.UUID(bytes=hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:16], version=4)
    )


class ContentIds:
    """EOL content ids: increasing, each a seeded step of 1-4000 past the one before.

    Unlike every other choice this is a running counter, so an id depends on how many were
    drawn before it. Each writer that draws ids owns its counter and is told where it starts.
    """

    def __init__(self, start: int):
        self.last = start

    def next(self, *parts: object) -> int:
        self.last += 1 + h("content", *parts) % 4000
        return self.last
