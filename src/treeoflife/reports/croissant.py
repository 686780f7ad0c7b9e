"""``croissant.json``: Croissant 1.0 metadata (JSON-LD) of the dataset a build wrote.

It describes the files (``catalog.csv``, ``provenance.parquet`` and every shard, each with
the sha256 the build recorded when it wrote it — no output file is read back), the record
sets a reader finds in them (the catalog's ranks and ids, the provenance columns, and in
the shards the image and the ten TreeOfLife-10M texts of each sample) and the
responsible-AI fields (``rai:``) the build can fill from what it knows: where the images
came from, how they were processed, and the biases its own counts show.

The ``@context`` is Croissant 1.0's standard one, so ``mlcroissant`` reads it without a
warning (a test checks that, and loads records of the catalog and provenance).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from treeoflife import atomic, builddb
from treeoflife.captions import CAPTION_MEMBERS, NAME_MEMBERS
from treeoflife.columns import CATALOG_COLUMNS, INTEGER_COLUMNS
from treeoflife.reports import provenance
from treeoflife.stages import BuildContext

NAME = "croissant.json"
CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
# Croissant 1.0's standard @context (as mlcroissant writes it)
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
_ARROW_TYPES = {pa.string(): "sc:Text", pa.int64(): "sc:Integer", pa.bool_(): "sc:Boolean"}


def _field(record_set: str, name: str, data_type: str, source: dict, description: str = "") -> dict:
    out = {
        "@type": "cr:Field",
        "@id": f"{record_set}/{name}",
        "name": name,
        "dataType": data_type,
        "source": source,
    }
    if description:
        out["description"] = description
    return out


def _file_object(name: str, fmt: str, sha256: str, description: str) -> dict:
    return {
        "@type": "cr:FileObject",
        "@id": name,
        "name": name,
        "description": description,
        "contentUrl": name,
        "encodingFormat": fmt,
        "sha256": sha256,
    }


def _recorded_sha256(ctx: BuildContext, stage: str) -> dict[str, str]:
    """The sha256 of each file a stage wrote, as the build recorded it."""
    return {rel: digest for rel, _, _, digest in builddb.stage_outputs(ctx.db, stage)}


def _shard_files(ctx: BuildContext) -> list[dict]:
    return [
        {
            **_file_object(name, "application/x-tar", sha, f"webdataset shard {shard} of {split}"),
        }
        for split, shard, name, sha in ctx.db.execute(
            "SELECT split, shard, name, sha256 FROM shards ORDER BY split, shard"
        )
    ]


def _member_record_sets(shards: list[dict]) -> tuple[list[dict], list[dict]]:
    """A FileSet per kind of shard member (the JPEG, each of the ten texts), and a record
    set reading each, keyed by the sample's ``treeoflife_id`` (the member's name)."""
    contained = [{"@id": s["@id"]} for s in shards]
    kinds = [("jpg", "image/jpeg", "image", "sc:ImageObject")] + [
        (f"{m}.txt", "text/plain", m, "sc:Text") for m in (*NAME_MEMBERS, *CAPTION_MEMBERS)
    ]
    sets, record_sets = [], []
    for suffix, fmt, name, data_type in kinds:
        files = f"members-{suffix}"
        sets.append(
            {
                "@type": "cr:FileSet",
                "@id": files,
                "name": files,
                "description": f"the <treeoflife_id>.{suffix} member of every sample",
                "containedIn": contained,
                "encodingFormat": fmt,
                "includes": f"*.{suffix}",
            }
        )
        key = _field(
            name,
            "treeoflife_id",
            "sc:Text",
            {
                "fileSet": {"@id": files},
                "extract": {"fileProperty": "filename"},
                "transform": {"regex": "^(.*)\\." + suffix.replace(".", "\\.") + "$"},
            },
            "the sample's key in its shard",
        )
        value = _field(
            name,
            name,
            data_type,
            {"fileSet": {"@id": files}, "extract": {"fileProperty": "content"}},
            "the sample's image" if name == "image" else f"the sample's {suffix} member",
        )
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": name,
                "name": name,
                "description": f"the .{suffix} member of each sample in the shards",
                "key": {"@id": f"{name}/treeoflife_id"},
                "field": [key, value],
            }
        )
    return sets, record_sets


def metadata(ctx: BuildContext, stats: dict[str, Any]) -> dict[str, Any]:
    """The Croissant document of this build (a pure function of the database and stats)."""
    catalog_sha = _recorded_sha256(ctx, "catalog")
    shards = _shard_files(ctx)
    member_sets, member_records = _member_record_sets(shards)
    catalog_fields = [
        _field(
            "catalog",
            c,
            "sc:Integer" if c in INTEGER_COLUMNS else "sc:Text",
            {"fileObject": {"@id": "catalog.csv"}, "extract": {"column": c}},
        )
        for c in CATALOG_COLUMNS
    ]
    provenance_fields = [
        _field(
            "provenance",
            name,
            _ARROW_TYPES[kind],
            {"fileObject": {"@id": "provenance.parquet"}, "extract": {"column": name}},
            text,
        )
        for name, kind, text in provenance.columns(ctx.db)
    ]
    licensed = stats.get("licenses", {})
    totals = {code: sum(per.values()) for code, per in licensed.items()}
    lim = stats.get("limitations", {})
    by_source = stats.get("by_source_all", {})
    kingdoms = lim.get("kingdom_share", {})
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": "treeoflife-dataset",
        "description": (
            "An image-text dataset of organisms in the TreeOfLife-10M format (webdataset "
            "shards of <treeoflife_id>.jpg with ten text members), built with treeoflife."
        ),
        "conformsTo": CONFORMS_TO,
        "url": "https://huggingface.co/datasets/<owner>/<name>",
        "version": stats.get("build", {}).get("tol_version", "0.0.0"),
        "license": [f"{code} ({n} samples)" for code, n in sorted(totals.items())] or ["unknown"],
        "citeAs": "See the Citation section of README.md",
        "rai:dataCollection": (
            "Images and their labels come from published collections, read as published: "
            + ", ".join(f"{s} ({n} samples)" for s, n in sorted(by_source.items()))
            + ". Each image's license and rights holder are those its source gives "
            "(provenance.parquet)."
        ),
        "rai:dataCollectionType": ["Secondary Data Analysis"],
        "rai:dataPreprocessingProtocol": (
            "Every source image is decoded once and resized to the [images] size; images "
            "that cannot be decoded, and those the [filters] leave out (license, minimum "
            "side, aspect ratio, blank frames, known placeholders), are recorded with a "
            "reason and not published. Labels are resolved to seven ranks against reference "
            "taxonomies; a name that fits two lineages keeps only the ranks they share."
        ),
        "rai:dataBiases": (
            "The spread over the tree of life follows what the sources photograph, not "
            "biodiversity: share of train samples per kingdom "
            + ", ".join(f"{k} {v}%" for k, v in sorted(kingdoms.items()))
            + "."
        ),
        "rai:dataLimitations": (
            f"{lim.get('ambiguous', 0)} samples with ambiguous names, "
            f"{lim.get('partial', 0)} labelled above species only, "
            f"{lim.get('unresolved', 0)} unresolved; "
            f"{lim.get('unknown_license', 0)} samples with no known license."
        ),
        "rai:personalSensitiveInformation": (
            "None collected. Rights holders' names are published as the sources give them, "
            "for attribution."
        ),
        "distribution": [
            _file_object(
                "catalog.csv",
                "text/csv",
                catalog_sha.get("catalog.csv", ""),
                "one row per sample and split, the TreeOfLife-10M catalog columns",
            ),
            _file_object(
                "provenance.parquet",
                "application/x-parquet",
                catalog_sha.get("provenance.parquet", ""),
                "one row per sample: source, license, rights holder, sizes, digests, label provenance",
            ),
            *shards,
            *member_sets,
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "catalog",
                "name": "catalog",
                "description": "catalog.csv: ids, ranks and common name of each sample",
                "field": catalog_fields,
            },
            {
                "@type": "cr:RecordSet",
                "@id": "provenance",
                "name": "provenance",
                "description": "provenance.parquet: where each sample came from and its license",
                "key": {"@id": "provenance/treeoflife_id"},
                "field": provenance_fields,
            },
            *member_records,
        ],
    }


def write_croissant(ctx: BuildContext, stats: dict[str, Any]) -> None:
    atomic.write_text(
        ctx.out / NAME,
        json.dumps(metadata(ctx, stats), indent=1, ensure_ascii=False) + "\n",
    )
