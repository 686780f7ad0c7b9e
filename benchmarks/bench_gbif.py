"""Reading a large GBIF occurrence download: CPU seconds and peak memory of the join.

Writes a synthetic download (``occurrence.txt`` with the real ~250 columns, a third of the
occurrences without media; ``multimedia.txt`` with 1-3 photos per occurrence with media, in
an order unlike the occurrences'), fetches nothing, then runs the GBIF source's scan in a
child process (every image is an ``image_missing``: the join, labels and ids are the
work) and prints the CPU seconds per million media rows and the child's peak RSS, against
the bytes of the two files. Peak memory must not grow with the download. Run by hand:
``python benchmarks/bench_gbif.py --occurrences 1000000``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from treeoflife.sample.gbif import MULTIMEDIA_COLUMNS, OCCURRENCE_COLUMNS

CHILD = """
import sys, resource, time
from treeoflife.config import load_config
from treeoflife.sources import gbif
t0 = time.process_time()
n = sum(1 for _ in gbif.scan(load_config(None, sys.argv[1])))
cpu = time.process_time() - t0
print(n, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_download(root: Path, occurrences: int) -> int:
    folder = root / "gbif/occurrence"
    folder.mkdir(parents=True)
    at = {c: i for i, c in enumerate(OCCURRENCE_COLUMNS)}
    media = 0
    with (folder / "occurrence.txt").open("w", encoding="utf-8") as fh:
        fh.write("\t".join(OCCURRENCE_COLUMNS) + "\n")
        for i in range(occurrences):
            row = [""] * len(OCCURRENCE_COLUMNS)
            g = i % 5000
            values = {
                "gbifID": str(1_000_000_000 + i),
                "occurrenceID": f"https://www.inaturalist.org/observations/{i}",
                "license": "CC_BY_NC_4_0",
                "kingdom": "Animalia",
                "phylum": "Arthropoda",
                "class": "Insecta",
                "order": f"Order{g % 30}",
                "family": f"Family{g % 700}",
                "genus": f"Genus{g}",
                "species": f"Genus{g} species{i % 7}",
                "scientificName": f"Genus{g} species{i % 7} Author, 1900",
                "taxonKey": str(5_000_000 + g * 7 + i % 7),
                "basisOfRecord": "HUMAN_OBSERVATION",
                "locality": "Somewhere along a long road, near a river, in a county",
            }
            for c, v in values.items():
                row[at[c]] = v
            fh.write("\t".join(row) + "\n")
    with (folder / "multimedia.txt").open("w", encoding="utf-8") as fh:
        fh.write("\t".join(MULTIMEDIA_COLUMNS) + "\n")
        stride = 7919  # a prime: media in an order unlike the occurrences'
        for k in range(occurrences):
            i = (k * stride) % occurrences
            if i % 3 == 0:
                continue
            for p in range(1 + i % 3):
                url = f"https://inaturalist-open-data.s3.amazonaws.com/photos/{i}{p}/original.jpg"
                row = dict.fromkeys(MULTIMEDIA_COLUMNS, "")
                row |= {"gbifID": str(1_000_000_000 + i), "type": "StillImage"}
                row |= {"format": "image/jpeg", "identifier": url, "creator": "someone"}
                row |= {"license": "http://creativecommons.org/licenses/by-nc/4.0/"}
                fh.write("\t".join(row[c] for c in MULTIMEDIA_COLUMNS) + "\n")
                media += 1
    return media


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--occurrences", type=int, default=300_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gbif-") as tmp:
        root = Path(tmp)
        t0 = time.process_time()
        media = write_download(root, args.occurrences)
        made = time.process_time() - t0
        size = sum(p.stat().st_size for p in (root / "gbif/occurrence").iterdir())
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, check=True
        ).stdout.split()
        n, cpu, rss_kib = int(out[0]), float(out[1]), int(out[2])
    print(
        f"download: {args.occurrences:,} occurrences, {media:,} media rows, {size / 2**20:,.0f} MiB"
    )
    print(f"writing it: {made:.1f} CPU s (this process)")
    print(
        f"scan: {n:,} items, {cpu:.1f} CPU s, {cpu / media * 1e6:.1f} CPU s per million media rows"
    )
    print(f"scan peak RSS: {rss_kib / 1024:.0f} MiB (files: {size / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()
