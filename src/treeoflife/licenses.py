"""Image licenses: the one function that turns what a source says into a short code.

Sources write licenses every which way: EOL's media manifest says ``cc-by-nc-sa-4.0`` or
``public domain``, iNat21's annotation JSON names ``Attribution-NonCommercial License``
with a URL carrying the version, BIOSCAN says ``CreativeCommons - Attribution
Non-Commercial Share-Alike``, GBIF says ``CC_BY_NC_4_0`` or a URL, people's CSVs say
``CC BY 4.0``. Filters, the card and
``provenance.parquet`` need one vocabulary, so every license text goes through
:func:`normalise` once, when scan records it, and the text as given is kept beside the code.

Codes are SPDX-like, lower case: ``cc0-1.0``, ``cc-by-4.0``, ``cc-by-nc-sa-3.0`` (a
Creative Commons text without a version gives ``cc-by-nc-sa``), ``public-domain``,
``all-rights-reserved``; ``unknown`` when the source says nothing, ``other`` when it says
something this function does not recognise (known, but not one of these).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache

UNKNOWN = "unknown"
OTHER = "other"
PUBLIC_DOMAIN = "public-domain"

_CC_URL = re.compile(r"creativecommons\.org/licenses/([a-z-]+)/(\d+(?:\.\d+)?)")
_VERSION = re.compile(r"\b(\d\.\d)\b")
# Creative Commons elements, in the order codes write them, and the words that name them
_ELEMENTS = (
    ("by", ("by", "attribution")),
    ("nc", ("nc", "noncommercial", "non-commercial", "non commercial")),
    ("nd", ("nd", "noderivs", "noderivatives", "no derivatives", "no-derivatives")),
    ("sa", ("sa", "sharealike", "share-alike", "share alike")),
)


def _words(text: str) -> str:
    """Lower case, punctuation to single spaces, padded (so `` by `` finds a whole word)."""
    return " " + re.sub(r"[^a-z0-9.]+", " ", text.lower()).strip() + " "


@lru_cache(maxsize=4096)  # sources repeat a handful of texts millions of times
def normalise(text: str | None, url: str | None = None) -> str:
    """The license code of what a source gives (a name, a code, or a URL), see the module."""
    text, url = (text or "").strip(), (url or "").strip()
    if not text and not url:
        return UNKNOWN
    # GBIF's enumeration: CC_BY_NC_4_0, CC0_1_0
    text = re.sub(r"(\d)_(\d)", r"\1.\2", text).replace("_", " ")
    for candidate in (url, text):
        m = _CC_URL.search(candidate.lower())
        if m:
            return f"cc-{m.group(1)}-{m.group(2)}"
    lowered = f"{text} {url}".lower()
    if "publicdomain/zero" in lowered or re.search(r"\bcc\s*-?\s*0\b|\bcc0\b", lowered):
        return "cc0-1.0"
    if (
        "public domain" in lowered
        or "publicdomain" in lowered
        or "no known copyright" in lowered
        or re.search(r"\bpdm\b", lowered)
    ):
        return PUBLIC_DOMAIN
    if "all rights reserved" in lowered:
        return "all-rights-reserved"
    words = _words(lowered.replace("-", " "))
    creative = " cc " in words or "creative" in words or "attribution" in words
    found = [code for code, names in _ELEMENTS if any(f" {n} " in words for n in names)]
    if creative and found and found[0] == "by":
        version = _VERSION.search(lowered)
        return "cc-" + "-".join(found) + (f"-{version.group(1)}" if version else "")
    return OTHER


def allowed(code: str, patterns: Iterable[str]) -> bool:
    """Whether a license code matches an allow-list entry (shell-style globs: ``cc-by-*``)."""
    return any(fnmatch.fnmatchcase(code, p.lower()) for p in patterns)
