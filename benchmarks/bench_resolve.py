"""Benchmark (run by hand): resolve a real-sized synthetic label set; print time and peak memory.

    /tmp/venv/bin/python benchmarks/bench_resolve.py [--labels 580000] [--dh-rows 2500000] [--dir /tmp/bench-resolve]

Writes a synthetic DH taxon.tab (parents after children, synonyms), ITIS chains, iNat taxa
+ vernacular names, EOL scraped and vernacular names under --dir, and a build database
whose ``labels`` table holds the labels, then runs the resolve stage itself on it (the
``taxa`` writes included; there are no images, so the holdout and catalog passes are
trivial). Target: under 5 minutes and 2 GiB.
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
from treeoflife.config import Config, SourcePaths
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


def labels(species: list, n: int, rng: random.Random) -> list[tuple[str, str, dict]]:
    out = []
    for i in range(n):
        k, p, c, o, f, g, e, page = species[rng.randrange(len(species))]
        kind = i % 10
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
    tmp = out.with_name(out.name + ".tmp")
    (tmp / builddb.DB_NAME).unlink(missing_ok=True)
    db = builddb.connect(tmp, create=True)
    with builddb.transaction(db):
        db.executemany(
            "INSERT INTO labels VALUES (?, ?, ?)",
            ((k, s, json.dumps(g)) for k, s, g in labels(species, args.labels, rng)),
        )
    db.close()
    tmp.rename(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--labels", type=int, default=580_000, help="labels drawn (~504K distinct by default)"
    )
    ap.add_argument("--dh-rows", type=int, default=2_500_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench-resolve"))
    args = ap.parse_args()
    t0 = time.monotonic()
    out = args.dir / f"build-{args.labels}-{args.dh_rows}"
    if not out.is_dir():  # generate in a child process: its memory is not ours
        child = multiprocessing.Process(target=_generate, args=(args, out))
        child.start()
        child.join()
    db = builddb.connect(out)
    (n_labels,) = db.execute("SELECT COUNT(*) FROM labels").fetchone()
    dh_lines = sum(1 for _ in (args.dir / "eol/dh21/taxon.tab").open()) - 1
    print(
        f"fixtures: {dh_lines} DH rows, {n_labels} distinct labels ({time.monotonic() - t0:.1f} s)"
    )
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t1 = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - t1:6.1f} s] {message}", flush=True)

    cfg = Config(sources_root=str(args.dir), paths=SourcePaths())
    ctx = BuildContext(out=out, config=cfg, db=db, progress=False, log=log)
    summary = resolve_stage.run(ctx)
    t2 = time.monotonic()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    statuses = {s: summary[s] for s in STATUSES}
    print(f"resolve stage {t2 - t1:.1f} s; statuses: {statuses}")
    print(f"peak RSS {peak:.0f} MiB (before the stage: {base:.0f} MiB)")


if __name__ == "__main__":
    main()
