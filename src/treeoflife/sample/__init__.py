"""The bundled sample source collection (``tol sample DIR``).

:func:`write_sample` writes real taxa in the real published formats of every source the
build reads (EOL image sets and Dynamic Hierarchy, iNat21, BIOSCAN-1M, ITIS, iNaturalist,
TreeOfLife-10M image sets, a generic folder), with dirty names, two-kingdom genera and
broken files planted on purpose, plus ``expected.json``: what a correct build must make of
every image. The same call always writes byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

from treeoflife.errors import TolError

__all__ = ["write_sample"]


def write_sample(dest: Path) -> dict:
    """Write the sample collection into ``dest`` (created if missing; must be empty).

    Returns a summary: images per source, number of planted broken inputs, species and
    kingdom counts, and the path of ``expected.json``.
    """
    from treeoflife.sample.generate import write_all

    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise TolError(f"{dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise TolError(f"{dest} is not empty: the sample is written into a new or empty directory")
    dest.mkdir(parents=True, exist_ok=True)
    return write_all(dest)
