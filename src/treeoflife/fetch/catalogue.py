"""What ``tol fetch`` downloads and from where: one table, overridable in ``tol.toml``.

The reference recipe hard-coded its URLs in a shell script, so a moved link meant editing
code. Here the known public files are a default catalogue; ``[fetch.<name>]`` in
``tol.toml`` overrides any field of an entry (url, sha256, size, target, …) or adds a new
entry. Targets default to the ``[paths]`` layout, so a build and a fetch agree on where
each input lives.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from treeoflife.config import SourcePaths
from treeoflife.errors import TolError

UNPACK = ("none", "gunzip", "zip", "tar", "media_manifest")


@dataclass(frozen=True)
class Entry:
    """One file to fetch: where it is, how to check it, and how it lands in the layout.

    ``target`` is relative to the sources root: the file itself for ``none``/``gunzip``/
    ``media_manifest``, the folder to unpack into for ``zip``/``tar``; ``required`` are
    files that must be in that folder afterwards.
    """

    name: str
    url: str
    target: str
    unpack: str = "none"
    sha256: str = ""
    size: int = 0  # 0: unknown
    required: tuple[str, ...] = ()
    default: bool = True  # fetched by a bare `tol fetch`
    description: str = ""

    @property
    def archive_name(self) -> str:
        """The file name the download is stored under while it is unpacked."""
        tail = PurePosixPath(self.url.split("?", 1)[0]).name
        return tail or f"{self.name}.download"


def _parent(path: str) -> str:
    parent = PurePosixPath(path).parent.as_posix()
    return "" if parent == "." else parent


def default_catalogue(paths: SourcePaths | None = None) -> dict[str, Entry]:
    """The known public reference files (as the reference's download script had them)."""
    p = paths or SourcePaths()
    entries = [
        Entry(
            name="eol_dh",
            url="https://editors.eol.org/uploaded_resources/00a/db4/dh21.zip",
            target=_parent(p.eol_dh),
            unpack="zip",
            required=(PurePosixPath(p.eol_dh).name,),
            description="EOL Dynamic Hierarchy 2.1 (taxon.tab)",
        ),
        Entry(
            name="eol_vernacular",
            url="https://opendata.eol.org/dataset/d40073b7-1da7-428a-a404-9233f5153147/resource/"
            "bf63dc02-a7ff-416e-b252-e77e23c29d5c/download/vernacularnames.csv",
            target=p.eol_vernacular,
            description="EOL vernacular (common) names",
        ),
        Entry(
            name="inat_dwca",
            url="https://www.inaturalist.org/taxa/inaturalist-taxonomy.dwca.zip",
            target=_parent(p.inat_taxa),
            unpack="zip",
            required=(PurePosixPath(p.inat_taxa).name, PurePosixPath(p.inat_vernacular).name),
            description="iNaturalist taxonomy DwC-A (taxa.csv, VernacularNames-english.csv)",
        ),
        Entry(
            name="gbif_backbone",
            url="https://hosted-datasets.gbif.org/datasets/backbone/current/backbone.zip",
            target=_parent(p.gbif_backbone),
            unpack="zip",
            required=(
                PurePosixPath(p.gbif_backbone).name,
                PurePosixPath(p.gbif_vernacular).name,
            ),
            default=False,  # ~1 GB zipped; the EOL hierarchy is what TreeOfLife-10M used
            description="GBIF Backbone Taxonomy DwC-A (Taxon.tsv, VernacularName.tsv)",
        ),
        Entry(
            name="eol_media_manifest",
            url="https://eol.org/data/media_manifest.tgz",
            target=p.eol_media_manifest,
            unpack="media_manifest",
            description="EOL media manifest (chunked CSVs combined into one, with a log)",
        ),
        Entry(
            name="eol_provider_ids",
            url="https://eol.org/data/provider_ids.csv.gz",
            target="eol/provider_ids.csv",
            unpack="gunzip",
            default=False,
            description="EOL provider ids (identifier map); not read by any stage yet",
        ),
        Entry(
            name="eol_traits",
            url="https://editors.eol.org/other_files/SDR/traits_all.zip",
            target="eol/traits_all",
            unpack="zip",
            default=False,
            description="EOL trait bank (large); not read by any stage yet",
        ),
    ]
    return {e.name: e for e in entries}


_FIELDS = {f.name: f for f in dataclasses.fields(Entry) if f.name != "name"}


def _value(name: str, key: str, value: Any) -> Any:
    """One override value, type-checked, with one sentence for a mistake."""
    where = f"[fetch.{name}] {key}"
    if key == "required":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TolError(f"{where} must be a list of file names, got {value!r}")
        return tuple(value)
    if key == "size":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise TolError(f"{where} must be a non-negative integer (bytes), got {value!r}")
        return value
    if key == "default":
        if not isinstance(value, bool):
            raise TolError(f"{where} must be true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise TolError(f"{where} must be a string, got {value!r}")
    if key == "unpack" and value not in UNPACK:
        raise TolError(f"{where} must be one of {', '.join(UNPACK)}, got {value!r}")
    if key == "sha256":
        value = value.strip().lower()
        if value and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
            raise TolError(f"{where} must be 64 hex digits, got {value!r}")
    if key == "url" and not value.startswith(("http://", "https://")):
        raise TolError(f"{where} must be an http:// or https:// URL, got {value!r}")
    if key == "target" and (value.startswith("/") or ".." in PurePosixPath(value).parts):
        raise TolError(f"{where} must be a path inside the sources root, got {value!r}")
    return value


def load_catalogue(
    overrides: dict[str, dict[str, Any]] | None = None, paths: SourcePaths | None = None
) -> dict[str, Entry]:
    """The default catalogue with the ``[fetch.<name>]`` tables of tol.toml applied
    (``overrides``: :attr:`treeoflife.config.FetchConfig.entries`)."""
    catalogue = default_catalogue(paths)
    for name, table in (overrides or {}).items():
        unknown = sorted(set(table) - set(_FIELDS))
        if unknown:
            raise TolError(
                f"[fetch.{name}] has unknown setting {unknown[0]}; known settings are "
                f"{', '.join(sorted(_FIELDS))}"
            )
        values = {k: _value(name, k, v) for k, v in table.items()}
        if name in catalogue:
            catalogue[name] = dataclasses.replace(catalogue[name], **values)
            continue
        if "url" not in values or "target" not in values:
            raise TolError(f"[fetch.{name}] is a new entry and needs at least url and target")
        catalogue[name] = Entry(name=name, **values)
    return catalogue


def select(catalogue: dict[str, Entry], wanted: list[str]) -> list[Entry]:
    """The entries named (``all`` for every one), or the default ones when none are named."""
    if not wanted:
        return [e for e in catalogue.values() if e.default]
    if "all" in wanted:
        return list(catalogue.values())
    unknown = [w for w in wanted if w not in catalogue]
    if unknown:
        raise TolError(
            f"nothing called {unknown[0]!r} in the fetch catalogue; known: "
            f"{', '.join(catalogue)} (or all)"
        )
    return [catalogue[w] for w in dict.fromkeys(wanted)]
