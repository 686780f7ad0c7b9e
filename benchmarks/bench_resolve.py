"""Benchmark (run by hand): resolve a real-sized synthetic label set; print time and peak memory.

    .venv/bin/python benchmarks/bench_resolve.py [--labels 580000] [--dh-rows 2500000]
        [--usages 6000000] [--references eol_dh,itis,inat,resolved,col,gbif] [--dir /tmp/bench-resolve]

Writes a synthetic DH taxon.tab (parents after children, synonyms), ITIS chains, iNat taxa
+ vernacular names, EOL scraped and vernacular names under --dir, and a build database
whose ``labels`` table holds the labels, then runs the resolve stage itself on it (the
``taxa`` writes included; there are no images, so the holdout and catalog passes are
trivial). With ``--usages N`` (0: none) it also writes a Catalogue of Life ColDP
``NameUsage.tsv`` and a GBIF backbone ``Taxon.tsv`` of N name usages each, the size of the
real ones (COL ~5M, GBIF ~7M usages): the same species with a parent-linked (ColDP) or
denormalised (GBIF) classification, children before parents, a synonym in another genus for
most species and subspecies to make up N, English vernacular names for a third; a tenth of
the labels are then written with a synonym name only the backbones know. ``--references``
is ``[taxonomy] references``. Target: under 5 minutes and 2 GiB; the box is shared, so
the CPU seconds are printed beside the wall time.

Measured (2026-11-30, 2 cores shared with ~7 other jobs, load ~15): 3,350,044 DH rows,
6,000,000 ColDP and 6,000,000 GBIF usages, 503,879 distinct labels, all six references:
390.9 s CPU (1716 s wall), peak RSS 2098 MiB; 503,853 resolved, 19 partial, 7
unresolved. Without the backbones (``--usages 0``) the same labels took 149.8 s and
1458 MiB before this change: over both targets with all six. After the loaders stopped
packing ids character by character and parsing ColDP's 71 columns (~20% less CPU per
backbone row), ``--references col,gbif`` (the 6M-usage backbones alone; the EOL page
labels then stay unresolved: 231,974 resolved, 19 partial, 271,886 unresolved): 250.3 s
CPU (635 s wall), peak RSS 1239 MiB, within both.

Measured (2026-12-01, 2 cores, nothing else running), the same 503,879 labels and all six
references, phase by phase (RSS sampled around each loader): before the candidates and
queries went to disk, 247 s wall and peak RSS 2,546 MiB (2,456 in a plain run), growing
through every reference read (queries 668 MiB, DH +470, ColDP +580, ITIS +570 MiB of
candidates); after (``taxonomy/candidates.py``, ``query.StoredQueries``), 296 s wall and
peak RSS 1,535 MiB, ColDP's own working set over its 6M usages; taxa identical. With
ColDP's NameUsage.tsv read by Arrow (``coldp._columnar_pass``): 230 s wall, peak RSS
1,532 MiB; taxa identical. Phase by phase (sampled): queries 22 s, DH 21 s, ColDP 41 s
(was ~90), GBIF 43 s, ITIS 19 s, iNat 10 s, common names 18 s, the look-ups and taxa 52 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import string
import time
from pathlib import Path

from treeoflife import builddb
from treeoflife.config import Config, SourcePaths, TaxonomyConfig
from treeoflife.sample.coldp import NAME_USAGE_COLUMNS
from treeoflife.sample.gbif_backbone import TAXON_COLUMNS
from treeoflife.stages import BuildContext
from treeoflife.stages import resolve as resolve_stage
from treeoflife.taxonomy.resolver import STATUSES

KINGDOMS = ("Metazoa", "Viridiplantae", "Fungi")


def word(rng: random.Random, cap: bool) -> str:
    w = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(6, 11)))
    return w.capitalize() if cap else w


def generate(
    root: Path, dh_rows: int, rng: random.Random
) -> list[tuple[str, str, str, str, str, str, str, int]]:
    """Write the reference files; return species (k, p, c, o, f, g, epithet, page)."""
    (root / "eol/dh21").mkdir(parents=True, exist_ok=True)
    (root / "itis").mkdir(parents=True, exist_ok=True)
    (root / "inat/dwca").mkdir(parents=True, exist_ok=True)
    species = []
    n_species = int(dh_rows * 0.8)
    n_genera = max(1, n_species // 8)
    genera = []
    tid = 0
    rows = []

    def add(parent: str, name: str, rank: str, page: int, accepted: str = "") -> str:
        nonlocal tid
        tid += 1
        t = f"EOL-{tid:012d}"
        rows.append(
            "\t".join(
                [
                    t,
                    "s",
                    "",
                    accepted,
                    parent,
                    name,
                    rank,
                    "accepted",
                    "d",
                    name,
                    "",
                    str(page or ""),
                    "",
                    "",
                ]
            )
        )
        return t

    life = add("", "Life", "", 1)
    kids = [(add(life, k, "kingdom", 10 + i), k) for i, k in enumerate(KINGDOMS)]
    for _ in range(n_genera):
        k_id, k = rng.choice(kids)
        p = word(rng, True) + "phyta"
        c = word(rng, True) + "opsida"
        o = word(rng, True) + "ales"
        f = word(rng, True) + "aceae"
        genera.append((k_id, k, p, c, o, f, word(rng, True)))
    # a small shared higher tree per genus (keeps row counts near dh_rows)
    page = 100
    for k_id, k, p, c, o, f, g in genera:
        pid = add(k_id, p, "phylum", 0)
        cid = add(pid, c, "class", 0)
        oid = add(cid, o, "order", 0)
        fid = add(oid, f, "family", 0)
        gid = add(fid, g, "genus", 0)
        for _ in range(8):
            page += 1
            e = word(rng, False)
            sid = add(gid, f"{g} {e}", "species", page)
            species.append((k, p, c, o, f, g, e, page))
            if rng.random() < 0.05:
                add("", f"{word(rng, True)} {e}", "species", 0, accepted=sid)
    rng.shuffle(rows)  # children before parents too
    with (root / "eol/dh21/taxon.tab").open("w") as fh:
        fh.write(
            "taxonID\tsource\tfurtherInformationURL\tacceptedNameUsageID\tparentNameUsageID\tscientificName\ttaxonRank\ttaxonomicStatus\tdatasetID\tcanonicalName\tauthority\teolID\tLandmark\thigherClassification\n"
        )
        fh.write("\n".join(rows) + "\n")
    rows.clear()
    with (root / "itis/species_level_taxonomy_chains.csv").open("w") as fh:
        fh.write(
            "hierarchy_string_tsn,hierarchy_string_names,terminal_tsn,terminal_scientific_name,terminal_vernacular,terminal_vernacular_lang,hierarchy_string_ranks,Kingdom,Phylum,Class,Order,Family,Genus,Species\n"
        )
        for i, (k, p, c, o, f, g, e, _) in enumerate(species[::4]):
            fh.write(
                f"1-2,a-b,{i},{g} {e},common {e},English,K-S,{'Animalia' if k == 'Metazoa' else 'Plantae' if k == 'Viridiplantae' else k},{p},{c},{o},{f},{g},{g} {e}\n"
            )
    with (
        (root / "inat/dwca/taxa.csv").open("w") as fh,
        (root / "inat/dwca/VernacularNames-english.csv").open("w") as vh,
    ):
        fh.write(
            "id,taxonID,identifier,parentNameUsageID,kingdom,phylum,class,order,family,genus,specificEpithet,infraspecificEpithet,modified,scientificName,taxonRank,references\n"
        )
        vh.write(
            "id,vernacularName,language,locality,countryCode,source,lexicon,contributor,created\n"
        )
        for i, (k, p, c, o, f, g, e, _) in enumerate(species[1::2]):
            fh.write(f"{i},u,{i},p,{k},{p},{c},{o},{f},{g},{e},,d,{g} {e},species,r\n")
            vh.write(f"{i},inat {e},en,,,,English,,x\n")
    with (root / "eol/vernacularnames.csv").open("w") as fh:
        fh.write(
            "page_id,canonical_form,vernacular_string,language_code,resource_name,is_preferred_by_resource,is_preferred_by_eol\n"
        )
        for *_, g, e, pg in species[::3]:
            fh.write(f"{pg},{g} {e},eol {e},en,r,preferred,preferred\n")
    with (root / "eol/scraped_page_ids.csv").open("w") as fh:
        fh.write("page_id,scientific_name\n")
        for i in range(min(20_000, len(species) // 7)):
            fh.write(
                f'{90_000_000 + i},"{species[i * 7][5]} {species[i * 7][6]} (Linnaeus, 1758)"\n'
            )
    return species


_COL_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZ"
COL_HEADER = NAME_USAGE_COLUMNS  # the published layouts, as the sample writes them
GBIF_HEADER = TAXON_COLUMNS


def _col_id(n: int) -> str:
    out = ""
    while True:
        n, d = divmod(n, len(_COL_ALPHABET))
        out += _COL_ALPHABET[d]
        if not n:
            return out


def generate_backbones(root: Path, species: list, usages: int, rng: random.Random) -> list[str]:
    """ColDP NameUsage.tsv + VernacularName.tsv and GBIF Taxon.tsv + VernacularName.tsv of
    ``usages`` rows each; returns the synonym names (each species' first)."""
    (root / "col").mkdir(parents=True, exist_ok=True)
    (root / "gbif/backbone").mkdir(parents=True, exist_ok=True)
    col_pad = "\t" * (len(COL_HEADER) - 10)
    higher: dict[tuple, int] = {}  # (k, p, c, o, f, g) prefix -> node number
    for sp in species:
        for depth in range(1, 7):
            higher.setdefault(tuple(sp[:depth]), len(higher))
    n_species = len(species)
    n_synonyms = min(n_species, max(0, usages - len(higher) - n_species))
    n_sub = max(0, usages - len(higher) - n_species - n_synonyms)
    synonyms = [f"{word(rng, True)} {sp[6]}" for sp in species[:n_synonyms]]
    ranks = ("kingdom", "phylum", "class", "order", "family", "genus")
    with (
        (root / "col/NameUsage.tsv").open("w") as col,
        (root / "gbif/backbone/Taxon.tsv").open("w") as gbif,
        (root / "col/VernacularName.tsv").open("w") as col_v,
        (root / "gbif/backbone/VernacularName.tsv").open("w") as gbif_v,
    ):
        col.write("\t".join(COL_HEADER) + "\n")
        gbif.write("\t".join(GBIF_HEADER) + "\n")
        col_v.write(
            "col:taxonID\tcol:sourceID\tcol:name\tcol:transliteration\tcol:language\tcol:preferred\tcol:country\tcol:area\tcol:sex\tcol:referenceID\tcol:remarks\n"
        )
        gbif_v.write(
            "taxonID\tvernacularName\tlanguage\tcountry\tcountryCode\tsex\tlifeStage\tsource\n"
        )
        base = len(higher)

        def col_row(i: str, parent: str, status: str, name: str, rank: str) -> None:
            col.write(f"{i}\t\t\t1005\t{parent}\t\t{status}\t{name}\tL.\t{rank}{col_pad}\n")

        def gbif_row(
            key: int, parent: str, acc: str, name: str, rank: str, status: str, cls: tuple
        ) -> None:
            epithet = name.split()[1] if " " in name else ""
            gbif.write(
                f"{key}\td\t{parent}\t{acc}\t\t{name} L.\tL.\t{name}\t{name.split()[0]}\t{epithet}\t\t{rank}\t\t\t{status}\t\t\t"
                + "\t".join(cls + ("",) * (6 - len(cls)))
                + "\n"
            )

        # children before parents: species, synonyms and subspecies first, then the tree
        for j, sp in enumerate(species):
            node = base + j
            parent = higher[tuple(sp[:6])]
            name = f"{sp[5]} {sp[6]}"
            col_row(_col_id(node), _col_id(parent), "accepted", name, "species")
            gbif_row(node, str(parent), "", name, "species", "accepted", tuple(sp[:6]))
            if j % 3 == 0:
                col_v.write(f"{_col_id(node)}\t\tcol {sp[6]}\t\teng\ttrue\t\t\t\t\t\n")
                gbif_v.write(f"{node}\tgbif {sp[6]}\ten\t\t\t\t\tx\n")
            if j < n_synonyms:
                syn = base + n_species + j
                col_row(_col_id(syn), _col_id(node), "synonym", synonyms[j], "species")
                gbif_row(syn, "", str(node), synonyms[j], "species", "synonym", tuple(sp[:6]))
        for j in range(n_sub):
            sp = species[j % n_species]
            sub = base + n_species + n_synonyms + j
            node = base + j % n_species
            name = f"{sp[5]} {sp[6]} {word(rng, False)}"
            col_row(_col_id(sub), _col_id(node), "accepted", name, "subspecies")
            gbif_row(sub, str(node), "", name, "subspecies", "accepted", tuple(sp[:6]))
        for prefix, node in higher.items():
            parent = higher.get(prefix[:-1], "")
            col_parent = _col_id(parent) if parent != "" else ""
            rank = ranks[len(prefix) - 1]
            col_row(_col_id(node), col_parent, "accepted", prefix[-1], rank)
            gbif_row(node, str(parent), "", prefix[-1], rank, "accepted", prefix)
    return synonyms


def labels(
    species: list, n: int, rng: random.Random, synonyms: list[str] = ()
) -> list[tuple[str, str, dict]]:
    out = []
    for i in range(n):
        j = rng.randrange(len(species))
        k, p, c, o, f, g, e, page = species[j]
        kind = i % 10
        if kind == 9 and synonyms:
            name = synonyms[j % len(synonyms)]
            out.append((f"generic:{i}", "generic", {"name": name, "ranks": {}, "common": ""}))
            continue
        if kind < 5:
            out.append((f"eol:page:{page}", "eol", {"page_id": page}))
        elif kind == 5:
            scraped = 90_000_000 + i % min(20_000, len(species) // 7)
            out.append((f"eol:page:{scraped}", "eol", {"page_id": scraped}))
        elif kind < 8:
            ranks = dict(
                zip(
                    ("kingdom", "phylum", "class", "order", "family", "genus", "species"),
                    (k, p, c, o, f, g, e),
                    strict=True,
                )
            )
            out.append((f"inat21:{i}", "inat21", {"ranks": ranks, "cls_num": i}))
        else:
            out.append(
                (
                    f"generic:{i}",
                    "generic",
                    {"name": f"{g} {e} Smith, {1800 + i % 200}", "ranks": {}, "common": ""},
                )
            )
    return list({k: (k, s, g) for k, s, g in out}.values())


def _generate(args: argparse.Namespace, out: Path) -> None:
    """Reference files and a build database with the labels; ``out`` appears only when complete."""
    rng = random.Random(7)
    species = generate(args.dir, args.dh_rows, rng)
    synonyms = generate_backbones(args.dir, species, args.usages, rng) if args.usages else []
    tmp = out.with_name(out.name + ".tmp")
    (tmp / builddb.DB_NAME).unlink(missing_ok=True)
    db = builddb.connect(tmp, create=True)
    with builddb.transaction(db):
        db.executemany(
            "INSERT INTO labels VALUES (?, ?, ?)",
            ((k, s, json.dumps(g)) for k, s, g in labels(species, args.labels, rng, synonyms)),
        )
    db.close()
    tmp.rename(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--labels", type=int, default=580_000, help="labels drawn (~504K distinct by default)"
    )
    ap.add_argument("--dh-rows", type=int, default=2_500_000)
    ap.add_argument(
        "--usages", type=int, default=6_000_000, help="ColDP and GBIF name usages (0: none)"
    )
    ap.add_argument(
        "--references",
        default=",".join(TaxonomyConfig().references),
        help="[taxonomy] references, comma-separated",
    )
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench-resolve"))
    args = ap.parse_args()
    t0 = time.monotonic()
    args.dir = args.dir / f"refs-{args.dh_rows}-{args.usages}"
    out = args.dir / f"build-{args.labels}"
    if not out.is_dir():  # generate in a child process: its memory is not ours
        child = multiprocessing.Process(target=_generate, args=(args, out))
        child.start()
        child.join()
    db = builddb.connect(out)
    (n_labels,) = db.execute("SELECT COUNT(*) FROM labels").fetchone()
    lines = {
        name: sum(1 for _ in path.open()) - 1
        for name, path in (
            ("DH", args.dir / "eol/dh21/taxon.tab"),
            ("ColDP", args.dir / "col/NameUsage.tsv"),
            ("GBIF", args.dir / "gbif/backbone/Taxon.tsv"),
        )
        if path.is_file()
    }
    print(
        f"fixtures: {', '.join(f'{n} {k} rows' for k, n in lines.items())}, "
        f"{n_labels} distinct labels ({time.monotonic() - t0:.1f} s)"
    )
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t1 = time.monotonic()
    cpu1 = time.process_time()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - t1:6.1f} s] {message}", flush=True)

    references = [r for r in args.references.split(",") if r]
    cfg = Config(
        sources_root=str(args.dir), paths=SourcePaths(), taxonomy=TaxonomyConfig(references)
    )
    ctx = BuildContext(out=out, config=cfg, db=db, progress=False, log=log)
    summary = resolve_stage.run(ctx)
    t2 = time.monotonic()
    cpu = time.process_time() - cpu1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    statuses = {s: summary[s] for s in STATUSES}
    print(f"references: {', '.join(references)}")
    print(f"resolve stage {t2 - t1:.1f} s wall, {cpu:.1f} s CPU; statuses: {statuses}")
    print(f"peak RSS {peak:.0f} MiB (before the stage: {base:.0f} MiB)")


if __name__ == "__main__":
    main()
