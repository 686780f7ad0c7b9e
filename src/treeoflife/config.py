"""The build config (``tol.toml``): every input path and every knob, with defaults.

Defaults follow the source layout of docs/sources.md. A path given explicitly in the config
must exist; a default path that does not exist just means that source is absent.
The config a build ran with is stored in ``build.sqlite``, so later commands on the same
``--out`` need no ``--sources``/``--config`` again.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from treeoflife.errors import TolError


@dataclass(frozen=True)
class SourcePaths:
    """Where each input lives, relative to the sources root (absolute paths allowed)."""

    eol_images: str = "eol/images"
    eol_dh: str = "eol/dh21/taxon.tab"
    eol_vernacular: str = "eol/vernacularnames.csv"
    eol_scraped: str = "eol/scraped_page_ids.csv"
    eol_media_manifest: str = "eol/media_manifest.csv"
    inat21: str = "inat21/train"
    inat_taxa: str = "inat/dwca/taxa.csv"
    inat_vernacular: str = "inat/dwca/VernacularNames-english.csv"
    bioscan_metadata: str = "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld"
    bioscan_images: str = "bioscan/images"
    itis_chains: str = "itis/species_level_taxonomy_chains.csv"
    resolved: str = "resolved.jsonl"
    rare_seen: str = "rarespecies/seen_in_training.json"
    rare_unseen: str = "rarespecies/unseen_in_training.json"
    tol10m_images: str = "tol10m"
    tol10m_catalog: str = "tol10m/catalog.csv"
    tol10m_licenses: str = "tol10m/licenses.csv"  # the published metadata/licenses.csv
    inat21_train_json: str = "inat21/train.json"  # iNat21 annotations: license, rights holder
    inat21_val_json: str = "inat21/val.json"
    generic: str = "generic"
    gbif_occurrence: str = "gbif/occurrence"
    bioscan5m_metadata: str = "bioscan5m/metadata/csv/BIOSCAN_5M_Insect_Dataset_metadata.csv"
    bioscan5m_images: str = "bioscan5m/images/cropped_256"
    placeholders: str = "placeholders.sha256"  # sha256sum lines of known placeholder images
    col_name_usage: str = "col/NameUsage.tsv"
    col_vernacular: str = "col/VernacularName.tsv"
    gbif_backbone: str = "gbif/backbone/Taxon.tsv"
    gbif_vernacular: str = "gbif/backbone/VernacularName.tsv"

    # The entries that are folders; every other entry is a file. Adapters test what they
    # expect (``is_dir()`` / ``is_file()``) and take anything else for an absent source, so
    # a path of the wrong kind would silently empty a source: ``check_sources`` refuses it.
    FOLDERS: ClassVar[frozenset[str]] = frozenset(
        {
            "eol_images",
            "inat21",
            "bioscan_images",
            "tol10m_images",
            "generic",
            "gbif_occurrence",
            "bioscan5m_images",
        }
    )


# The name references ``[taxonomy] references`` may list, in the order they were trusted
# before the order was a setting, the newer backbones after (its default).
REFERENCE_CHOICES: tuple[str, ...] = ("eol_dh", "itis", "inat", "resolved", "col", "gbif")


@dataclass(frozen=True)
class TaxonomyConfig:
    """The ``[taxonomy]`` section: which references name the labels, most trusted first.

    A reference left out is not read. The order decides which reference sets a lineage
    when several fit a label equally well; it never overrides a rank the source gave, and
    candidates that differ still leave the rank empty (docs/sources.md).
    """

    references: list[str] = field(default_factory=lambda: list(REFERENCE_CHOICES))


@dataclass(frozen=True)
class SplitConfig:
    method: str = "stable"  # "stable" (hash per image) or "exact" (the reference's counts)
    val_percent: float = 5.0
    train_small_percent: float = 10.0  # of train
    seed: int = 17
    # what goes to val whole: "image" (each image on its own) or "taxon" (every image of a
    # taxon at taxon_rank together, so val holds only taxa train never saw)
    unit: str = "image"
    taxon_rank: str = "species"
    # taxa (names as in [select]) whose images go to val only, whatever the unit
    holdout_taxa: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SelectConfig:
    """``[select]``: which resolved images the dataset keeps (see :mod:`treeoflife.selection`).

    Each rule that drops an image records its own reason code; nothing set keeps every image.
    """

    include: list[str] = field(default_factory=list)  # taxa: "Aves", "family:Felidae", ...
    exclude: list[str] = field(default_factory=list)
    require_ranks: list[str] = field(default_factory=list)  # e.g. ["genus", "species"]
    rank: str = "species"  # the rank min_per_taxon and max_per_taxon count images at
    min_per_taxon: int = 0  # taxa with fewer images are dropped (0: no minimum)
    max_per_taxon: int = 0  # at most this many images a taxon (0: no cap)
    seed: int = 17  # which images a cap keeps


@dataclass(frozen=True)
class ImageSpec:
    """The ``[images]`` section: the output an image is turned into (picklable; it goes into
    worker tasks, and its repr into work-unit ids). Public as ``treeoflife.images.ImageSpec``."""

    width: int = 224
    height: int = 224
    resize: str = "stretch"  # stretch | center_crop | keep_ratio | pad
    quality: int = 95
    max_image_pixels: int = 89_478_485  # Pillow's own decompression-bomb limit


@dataclass(frozen=True)
class ShardConfig:
    max_samples: int = 10_000
    max_bytes: int = 1_000_000_000
    order: str = "shuffle"  # shuffle (seeded, across shards) | source
    seed: int = 17
    caption: str = "taxonTag_com"  # which caption also goes into the plain .txt member
    keep_work: bool = False  # keep the image pass's work files after verify (OUT/.work/)


@dataclass(frozen=True)
class ReportConfig:
    # keep the catalog a rebuild replaces and show what changed on the dataset card
    # (off: a rebuild's outputs then equal a fresh build's)
    changes: bool = False


@dataclass(frozen=True)
class RightsConfig:
    """``[rights]``: licenses given for a whole source, for images that carry none of their own.

    BIOSCAN-1M is published as a whole under CC BY 3.0 (its records name the rights holder);
    a generic folder's ``labels.csv`` may have a ``license`` column, else ``generic_license``.
    """

    bioscan_license: str = "CC BY 3.0"
    generic_license: str = ""  # "" = unknown


@dataclass(frozen=True)
class FilterConfig:
    """``[filters]``: images left out before the split, each with its own reason code.

    Defaults keep every license and drop only images no one would train on: a side under
    32 px (upscaled 7x to 224 px there is no detail left; the small images the sources
    really have, EOL's 98 px thumbnails and BIOSCAN's 256 px crops, are well above it), an
    aspect ratio over 10 (stretched or cropped to a square, a 10:1 strip keeps a tenth of
    one axis), and near-constant frames (the pixel standard deviation of the small decode
    under 2 of 255: black, white or single-colour frames, which JPEG noise alone keeps
    under 1).
    """

    licenses: list[str] = field(default_factory=lambda: ["*"])  # allow-list, globs
    exclude_unknown_license: bool = False
    min_side: int = 32
    max_aspect_ratio: float = 10.0
    min_pixel_std: float = 2.0
    placeholder_sha256: list[str] = field(default_factory=list)  # beside [paths] placeholders


@dataclass(frozen=True)
class DedupConfig:
    """The ``[dedup]`` section: duplicate clusters and eval-set decontamination."""

    # the Hamming distance (of 64 bits) under which two images are the same photo;
    # 0: only identical hashes (byte-identical files and lossless copies). See
    # treeoflife.dedup.phash for how the default was measured.
    threshold: int = 6
    keep: str = "one"  # one (a sample per cluster, the others `duplicate` rejects) | all
    # folders of images, image .tar/.tar.gz or webdataset shards, relative to the sources
    # root or absolute: every source image matching one of their images is dropped
    eval_sets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DistributeConfig:
    """Where worker tasks run (see :mod:`treeoflife.distribute`); nothing set: this machine.

    The environment variable ``TOL_DASK_SCHEDULER`` overrides ``scheduler``.
    """

    scheduler: str = ""  # address of a running `distributed` scheduler, "tcp://host:8786"
    # keyword arguments of dask_jobqueue.SLURMCluster, plus jobs (how many to start)
    slurm: dict[str, Any] = field(default_factory=dict)
    # seconds; Dask's own default (30 s, then a traceback) reads as a hang at the terminal
    connect_timeout: float = 10.0


@dataclass(frozen=True)
class FetchConfig:
    """``tol fetch``: how hard to try (plain ``[fetch]`` settings) and ``[fetch.<name>]``
    overrides of the catalogue (checked against its fields by :mod:`treeoflife.fetch.catalogue`).

    The defaults suit multi-GB files on a slow link; tests shrink them.
    """

    timeout: float = 60.0  # seconds without progress (connect or read) before a try fails
    deadline: float = 6 * 3600.0  # seconds for the whole file: every try and every wait
    tries: int = 8
    backoff: float = 2.0  # first wait; doubles each retry
    max_backoff: float = 120.0
    max_redirects: int = 10
    max_unpacked_bytes: int = 200 * 1024**3  # an archive's whole uncompressed size
    max_ratio: float = 1000.0  # uncompressed / compressed, a whole archive
    # entry name -> the fields it overrides (the sub-tables of [fetch])
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    sources_root: str = ""
    paths: SourcePaths = field(default_factory=SourcePaths)
    taxonomy: TaxonomyConfig = field(default_factory=TaxonomyConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    images: ImageSpec = field(default_factory=ImageSpec)
    shards: ShardConfig = field(default_factory=ShardConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    rights: RightsConfig = field(default_factory=RightsConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    distribute: DistributeConfig = field(default_factory=DistributeConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    # path names the user set explicitly; those must exist
    explicit_paths: tuple[str, ...] = ()

    def source_path(self, name: str) -> Path:
        """Absolute path of an input by its name in [paths]."""
        value = getattr(self.paths, name)
        p = Path(value)
        return p if p.is_absolute() else Path(self.sources_root) / p

    def eval_set_path(self, value: str) -> Path:
        """Absolute path of an entry of ``[dedup] eval_sets`` (relative: to the sources root)."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.sources_root) / p

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        fetch = d["fetch"]  # in the shape tol.toml has it: the entries are sub-tables
        d["fetch"] = {**{k: v for k, v in fetch.items() if k != "entries"}, **fetch["entries"]}
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Config:
        data = json.loads(text)
        # builds recorded before [distribute] and [fetch] were typed kept them under "extra"
        legacy = data.pop("extra", {})
        if not isinstance(legacy, dict):
            raise TolError(f"build.sqlite: extra must be a table, got {legacy!r}")
        data.update(legacy)
        return from_dict(data, origin="build.sqlite")

    def section_json(self, *names: str) -> str:
        """Canonical JSON of some sections, for stage fingerprints."""
        d = dataclasses.asdict(self)
        return json.dumps({n: d[n] for n in names}, sort_keys=True)


_SECTIONS = {
    "paths": SourcePaths,
    "taxonomy": TaxonomyConfig,
    "split": SplitConfig,
    "select": SelectConfig,
    "images": ImageSpec,
    "shards": ShardConfig,
    "report": ReportConfig,
    "rights": RightsConfig,
    "filters": FilterConfig,
    "dedup": DedupConfig,
    "distribute": DistributeConfig,
    "fetch": FetchConfig,
}
# top-level keys of a stored config that a tol.toml cannot set (sources_root can: a path
# relative to the config file)
INTERNAL_KEYS = ("explicit_paths",)
_CHOICES = {
    ("split", "method"): ("stable", "exact"),
    ("split", "unit"): ("image", "taxon"),
    ("images", "resize"): ("stretch", "center_crop", "keep_ratio", "pad"),
    ("shards", "order"): ("shuffle", "source"),
    ("dedup", "keep"): ("one", "all"),
}


def _section(kind: type, values: dict[str, Any], name: str, origin: str) -> Any:
    if not isinstance(values, dict):
        raise TolError(f"{origin}: [{name}] must be a table, got {values!r}")
    known = {f.name: f for f in dataclasses.fields(kind)}
    out: dict[str, Any] = {}
    if kind is FetchConfig:
        # sub-tables of [fetch] not named like a setting are catalogue entries
        known.pop("entries")
        entries = {k: v for k, v in values.items() if k not in known and isinstance(v, dict)}
        values = {k: v for k, v in values.items() if k not in entries}
        out["entries"] = entries
    for key, value in values.items():
        if key not in known:
            hint = " (entries are [fetch.<name>] tables)" if kind is FetchConfig else ""
            raise TolError(
                f"{origin}: unknown setting {name}.{key}; known settings are "
                f"{', '.join(sorted(known))}{hint}"
            )
        f = known[key]
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool):
            what = "table" if expected is dict else expected.__name__
            raise TolError(f"{origin}: {name}.{key} must be a {what}, got {value!r}")
        choices = _CHOICES.get((name, key))
        if choices and value not in choices:
            raise TolError(
                f"{origin}: {name}.{key} must be one of {', '.join(choices)}, got {value!r}"
            )
        out[key] = value
    return kind(**out)


def from_dict(data: dict[str, Any], origin: str = "config") -> Config:
    """Build a Config from parsed TOML/JSON, with one clear sentence for any mistake."""
    data = dict(data)
    kwargs: dict[str, Any] = {}
    for name, kind in _SECTIONS.items():
        if name in data:
            kwargs[name] = _section(kind, data.pop(name), name, origin)
    explicit = data.pop("explicit_paths", None)
    if explicit is None:
        explicit = _explicit_names(kwargs.get("paths"))
    kwargs["explicit_paths"] = _internal_names(explicit, origin)
    kwargs["sources_root"] = data.pop("sources_root", "")
    if not isinstance(kwargs["sources_root"], str):
        raise TolError(
            f"{origin}: sources_root must be a path string, got {kwargs['sources_root']!r}"
        )
    if data:
        known = ", ".join(f"[{n}]" for n in _SECTIONS)
        raise TolError(f"{origin}: unknown section [{sorted(data)[0]}]; sections are {known}")
    cfg = Config(**kwargs)
    _validate(cfg, origin)
    return cfg


def _internal_names(values: Any, origin: str) -> tuple[str, ...]:
    """``explicit_paths`` of a stored config: names of [paths] settings, nothing else (a
    damaged or hand-edited value would otherwise fail later as a TypeError)."""
    known = {f.name for f in dataclasses.fields(SourcePaths)}
    if not isinstance(values, list | tuple) or not all(v in known for v in values):
        raise TolError(
            f"{origin}: explicit_paths must be a list of [paths] setting names, got {values!r}"
        )
    return tuple(values)


def _explicit_names(paths: SourcePaths | None) -> list[str]:
    if paths is None:
        return []
    default = SourcePaths()
    return [
        f.name
        for f in dataclasses.fields(paths)
        if getattr(paths, f.name) != getattr(default, f.name)
    ]


def _validate_references(references: list, origin: str) -> None:
    unknown = [r for r in references if r not in REFERENCE_CHOICES]
    if unknown:
        raise TolError(
            f"{origin}: taxonomy.references has unknown reference {unknown[0]!r}; "
            f"known references are {', '.join(REFERENCE_CHOICES)}"
        )
    repeated = sorted({r for r in references if references.count(r) > 1})
    if repeated:
        raise TolError(f"{origin}: taxonomy.references lists {repeated[0]!r} twice")


def _validate(cfg: Config, origin: str) -> None:
    im, sp, sh, di, fe = cfg.images, cfg.split, cfg.shards, cfg.distribute, cfg.fetch
    _validate_references(cfg.taxonomy.references, origin)
    if not (16 <= im.width <= 8192 and 16 <= im.height <= 8192):
        raise TolError(f"{origin}: images.width and images.height must be between 16 and 8192")
    if not 1 <= im.quality <= 100:
        raise TolError(f"{origin}: images.quality must be between 1 and 100, got {im.quality}")
    if im.max_image_pixels < im.width * im.height:
        raise TolError(f"{origin}: images.max_image_pixels is smaller than the output size")
    for key in ("val_percent", "train_small_percent"):
        v = getattr(sp, key)
        if not 0 <= v <= 100:
            raise TolError(f"{origin}: split.{key} must be between 0 and 100, got {v}")
    _validate_selection(cfg, origin)
    dd = cfg.dedup
    if not 0 <= dd.threshold <= 16:
        raise TolError(
            f"{origin}: dedup.threshold must be between 0 and 16 bits, got {dd.threshold}"
        )
    if not all(isinstance(p, str) and p for p in dd.eval_sets):
        raise TolError(f"{origin}: dedup.eval_sets must be a list of paths, got {dd.eval_sets!r}")
    if sh.max_samples < 1 or sh.max_bytes < 1:
        raise TolError(f"{origin}: shards.max_samples and shards.max_bytes must be positive")
    from treeoflife.captions import CAPTION_MEMBERS  # the one list of captions

    if sh.caption not in CAPTION_MEMBERS:
        raise TolError(
            f"{origin}: shards.caption must be one of {', '.join(CAPTION_MEMBERS)}, got {sh.caption!r}"
        )
    _validate_filters(cfg.filters, origin)
    if di.connect_timeout <= 0:
        raise TolError(
            f"{origin}: distribute.connect_timeout must be a positive number of seconds, "
            f"got {di.connect_timeout:g}"
        )
    jobs = di.slurm.get("jobs", 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise TolError(f"{origin}: distribute.slurm.jobs must be a positive integer, got {jobs!r}")
    for f in dataclasses.fields(fe):
        value = getattr(fe, f.name)
        if f.name != "entries" and value < 0:
            raise TolError(f"{origin}: fetch.{f.name} must not be negative, got {value!r}")
    if fe.tries < 1:
        raise TolError(f"{origin}: fetch.tries must be at least 1, got {fe.tries}")
    if fe.entries:
        from treeoflife.fetch.catalogue import load_catalogue  # imports this module

        try:
            load_catalogue(fe.entries, cfg.paths)  # checks each [fetch.<name>] field
        except TolError as exc:
            raise TolError(f"{origin}: {exc}") from None


def _validate_selection(cfg: Config, origin: str) -> None:
    """[select] and the taxon settings of [split]: ranks from the one rank list, taxon names
    well formed (whether they exist is known only once the build's labels are resolved)."""
    from treeoflife.selection.terms import parse_term  # the one parser of taxon names
    from treeoflife.taxonomy.ranks import RANKS

    se, sp = cfg.select, cfg.split
    for key, rank in (("select.rank", se.rank), ("split.taxon_rank", sp.taxon_rank)):
        if rank not in RANKS:
            raise TolError(f"{origin}: {key} must be one of {', '.join(RANKS)}, got {rank!r}")
    lists = {
        "select.include": se.include,
        "select.exclude": se.exclude,
        "select.require_ranks": se.require_ranks,
        "split.holdout_taxa": sp.holdout_taxa,
    }
    for key, values in lists.items():
        bad = [v for v in values if not isinstance(v, str) or not v.strip()]
        if bad:
            raise TolError(f"{origin}: {key} must be a list of names, got {bad[0]!r} in it")
    for rank in se.require_ranks:
        if rank not in RANKS:
            raise TolError(
                f"{origin}: select.require_ranks: {rank!r} is not a rank; ranks are {', '.join(RANKS)}"
            )
    for key in ("select.include", "select.exclude", "split.holdout_taxa"):
        for name in lists[key]:
            try:
                parse_term(name)
            except TolError as exc:
                raise TolError(f"{origin}: {key}: {exc}") from None
    for key in ("min_per_taxon", "max_per_taxon"):
        if getattr(se, key) < 0:
            raise TolError(f"{origin}: select.{key} must not be negative, got {getattr(se, key)}")
    if se.max_per_taxon and se.min_per_taxon > se.max_per_taxon:
        raise TolError(
            f"{origin}: select.min_per_taxon ({se.min_per_taxon}) is larger than "
            f"select.max_per_taxon ({se.max_per_taxon}): no taxon could be kept"
        )


def _validate_filters(fi: FilterConfig, origin: str) -> None:
    if not all(isinstance(p, str) and p for p in fi.licenses):
        raise TolError(f"{origin}: filters.licenses must be a list of license codes or globs")
    if fi.min_side < 0 or fi.min_pixel_std < 0 or fi.max_aspect_ratio < 1:
        raise TolError(
            f"{origin}: filters.min_side and filters.min_pixel_std must not be negative, "
            "and filters.max_aspect_ratio must be at least 1"
        )
    for digest in fi.placeholder_sha256:
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise TolError(
                f"{origin}: filters.placeholder_sha256 must list lower-case sha256 hex digests, "
                f"got {digest!r}"
            )


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML of a config file, or one clear sentence why not."""
    if not path.is_file():
        raise TolError(f"config file {path} does not exist (expected a TOML build config)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TolError(f"config file {path} is not valid TOML: {exc}") from None


def parse_config(path: Path | None, sources: Path | None) -> Config:
    """Read ``tol.toml`` (optional) and set the sources root (``sources``, else the config's
    ``sources_root`` relative to the config file), without looking at the sources."""
    data: dict[str, Any] = read_toml(path) if path is not None else {}
    for key in INTERNAL_KEYS:  # what a build records of the config, not settings
        if key in data:
            raise TolError(
                f"{path}: {key} is not a setting (the build records it); sections are "
                + ", ".join(f"[{n}]" for n in _SECTIONS)
            )
    if sources is not None:
        data["sources_root"] = str(Path(sources).resolve())
    elif "sources_root" in data:
        if not isinstance(data["sources_root"], str):
            raise TolError(
                f"{path}: sources_root must be a path string, got {data['sources_root']!r}"
            )
        base = path.parent if path is not None else Path.cwd()
        data["sources_root"] = str((base / data["sources_root"]).resolve())
    return from_dict(data, origin=str(path) if path else "config")


def load_config(path: Path | None, sources: Path | None) -> Config:
    """:func:`parse_config`, then check the sources root and the explicit paths exist."""
    cfg = parse_config(path, sources)
    check_sources(cfg)
    return cfg


def check_sources(cfg: Config) -> None:
    root = Path(cfg.sources_root)
    if not cfg.sources_root:
        raise TolError("no sources given: pass --sources DIR (the source collection root)")
    if not root.is_dir():
        raise TolError(
            f"sources root {root} is not a directory (expected the source collection, see docs/sources.md)"
        )
    for name in cfg.explicit_paths:
        p = cfg.source_path(name)
        if not p.exists():
            raise TolError(
                f"paths.{name} = {p} does not exist (set in the config, so it is required)"
            )
    for value in cfg.dedup.eval_sets:
        p = cfg.eval_set_path(value)
        if not p.exists():
            raise TolError(
                f"dedup.eval_sets: {p} does not exist (a folder, .tar or .tar.gz of images)"
            )
    for f in dataclasses.fields(SourcePaths):
        # defaults too: a file where a folder belongs is a mistake, not an absent source
        p = cfg.source_path(f.name)
        want_dir = f.name in SourcePaths.FOLDERS
        if p.exists() and p.is_dir() != want_dir:
            raise TolError(
                f"paths.{f.name} = {p} is a {'file' if want_dir else 'folder'}, "
                f"but must be a {'folder' if want_dir else 'file'} (see docs/sources.md)"
            )
