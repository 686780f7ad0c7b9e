"""Whole-build scaling, run by hand: ``python benchmarks/bench_build.py N [N2 ...]``.

For each N it writes a collection of N images in the published source layouts (DESIGN.md):

- EOL image sets ``eol/images/*.tar.gz`` of ``<content_id>_<page_id>_eol-full-size-copy.jpg``,
  with the EOL Dynamic Hierarchy ``taxon.tab`` (3.35M rows by default; ``--dh-rows`` makes
  it smaller), ``vernacularnames.csv``, ``scraped_page_ids.csv``, ITIS chains and the
  iNaturalist DwC-A taxa (the reference generator of ``bench_resolve.py``, written once per
  ``--dh-rows`` and shared by every N);
- iNat21 class folders ``inat21/train/<NNNNN>_<Kingdom>_..._<Genus>_<species>/*.jpg``;
- BIOSCAN-1M ``bioscan/images/part<N>/*.jpg`` and its JSON-list metadata;
- the rare-species holdout lists;

~N/20 species with a Zipf-like image count (every species at least one image), about 62% of
the images from EOL, 27% iNat21 and 11% BIOSCAN, as in TreeOfLife-10M. The images are 64×48
JPEGs of random coloured blocks, each its own picture except a share (``--duplicates``,
2%) that repeat a recent one byte for byte, so the dedup stages see clusters of the size
real collections have; the build measures the pipeline rather than the codec (the build
config asks for 64×48 output images too).

Then it runs the build one stage at a time, each stage its own subprocess: ``tol <stage>
--out OUT`` (the first with ``--sources`` and ``--config``), taking the stages from
``treeoflife.stages.stage_names()`` at run time. A stage that has no command of its own
(``plan`` and ``write`` share ``tol shard``) runs alone through the same CLI code with
that stage registered as a command (the "via" column says which). Per stage it prints
wall and CPU time (user + sys of the whole process tree, from ``wait4``), the peak RSS of
the driver and of the largest worker process (the processes' VmHWM, polled every 50 ms
with psutil) and the size of ``build.sqlite`` after it; then the time of a no-op ``tol
build`` on the finished build. With ``--from-stage`` and ``--repeat K`` each forced stage
runs K times in a row, every run's time is printed and the fastest counts: this box's
speed drifted by up to 1.5x even between consecutive runs of one stage (2026-12-01: plan
48.9 then 35.6 s at 1M), which the repeats show but do not remove; compare whole runs of
the bench in pairs, or one stage run alone on copies of one build, old and new code
interleaved. With ``--interleave`` the sizes take turns a stage at a time (each forced stage
at N1, N2, N1, N2, ... before the next stage): a stage's time at 10M rests on the
difference between its times at two sizes, which a drift between them would skew, so
both are measured minutes apart rather than a whole build apart. With ``--from-stage`` a database tol did not close (copied, restored, left by
a killed command) is checked before the first forced stage, not inside it (a resolve at
1M once read 32.6 s wall against 21.0 s of its own for it).

With two or more N it extrapolates each stage to ``--target`` images (10M) from the two
largest N, by the larger of time = a·N^b and a straight line (a fixed cost must not pass
for slow growth), and prints b next to the b that N log N would give over the same range,
then the totals: the non-image stages (all but the image pass, write and verify) against
the 15-minute target, both as this benchmark runs them (a process per stage, each paying
start-up) and as one ``tol build`` process does (the stages' own recorded run times plus
one database check on opening, which a build pays when it resumes one that did not end
well: ``builddb.needs_check``); and the largest peak RSS
against 2 GiB. With ``--one-build`` it then runs the same stages once more as one ``tol
build --from STAGE`` (one process, one connection, as a user runs them) and prints each
stage's own seconds there against its own process's: a stage slowed by what an earlier
stage left on the connection shows only there (split's temporary tables once made report
14x slower at 1M). With ``--rss-growth`` it runs them once more as one build with SQLite's
caches cut to 1 MiB (``TOL_SQLITE_CACHE_MIB``): the peak RSS of that process grows with
N by what is not SQLite's (whose caches the setting fixes whatever N), so a straight line
through it plus the caches' bound is the peak a build reaches at 10M; that build runs
through ``stage_peaks.py``, which reads each stage's own peak, and the line is drawn per
stage too (the build's two peaks may be two different stages'). Figures only, no
assertions; ``--json PATH`` writes them all.

The work directory is a new one under /tmp, removed at the end unless ``--keep``;
``--workdir DIR`` uses (and keeps) DIR, reusing the references and collections already
written there.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

import stage_peaks
from bench_resolve import generate as generate_references
from treeoflife import builddb, cli
from treeoflife.sample.bioscan import BIOSCAN_KEYS
from treeoflife.stages import all_stages, stage_names

MIB = 1024 * 1024
SOURCE_SHARES = {"eol": 0.62, "inat21": 0.27, "bioscan": 0.11}
EOL_SET_IMAGES = 20_000  # members per EOL image set (at least MIN_EOL_SETS sets)
MIN_EOL_SETS = 3
BIOSCAN_PARTS = 113
INAT_KINGDOM = {"Metazoa": "Animalia", "Viridiplantae": "Plantae", "Fungi": "Fungi"}
# Stages that read or write pixels (scan is the image pass); the target for the others is
# TARGET_SECONDS at 10M.
IMAGE_STAGE_NAMES = {"scan", "write", "verify"}
TARGET_SECONDS = 15 * 60
MEMORY_TARGET = 2 * 1024 * MIB
POLL_SECONDS = 0.05
# Output images as small as the inputs: the build measures the pipeline, not the codec.
CONFIG = """\
[images]
width = 64
height = 48
"""
# Runs one stage alone through the CLI's own code, for a stage with no command of its own:
# registers it as a one-stage command, then `tol <stage> ...` as usual.
RUN_ONE_STAGE = (
    "import sys\n"
    "from treeoflife import cli\n"
    "name = sys.argv[1]\n"
    "cli.STAGE_COMMANDS[name] = (name,)\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)


# ---------------------------------------------------------------------------- images


def encode_picture(rng: np.random.Generator, size: tuple[int, int] = (64, 48)) -> bytes:
    """A new small JPEG: a random grid of 6×8 coloured blocks with a little noise, so every
    picture has its own perceptual hash (a dHash of random blocks differs in ~half its bits)."""
    w, h = size
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    arr = np.repeat(np.repeat(small, h // 6, 0), w // 8, 1).astype(np.int16)
    arr += rng.integers(-6, 7, arr.shape, dtype=np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(
        buf, "JPEG", quality=int(rng.integers(70, 96))
    )
    return buf.getvalue()


class Jpegs:
    """Unique JPEG bytes, one call per image: a new picture each time, except a share
    ``duplicates`` that repeat one of the last few hundred pictures byte for byte, as the
    same photo reaches a collection through two pages or two sources."""

    RECENT = 512

    def __init__(self, duplicates: float, seed: int):
        self.rng = np.random.default_rng(seed)
        self.duplicates = duplicates
        self.recent: list[bytes] = []
        self.made = 0

    def picture(self) -> bytes:
        return encode_picture(self.rng)

    def next(self) -> bytes:
        self.made += 1
        if self.recent and self.rng.random() < self.duplicates:
            return self.recent[int(self.rng.integers(len(self.recent)))]
        data = self.picture()
        if len(self.recent) < self.RECENT:
            self.recent.append(data)
        else:
            self.recent[self.made % self.RECENT] = data
        return data


def tar_member(name: str, data: bytes) -> bytes:
    """One regular-file member of a tar (header, data, padding), as tarfile writes it."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    pad = -len(data) % tarfile.BLOCKSIZE
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape") + data + b"\0" * pad


# ------------------------------------------------------------------------ references


def write_references(root: Path, dh_rows: int) -> Path:
    """bench_resolve's reference files under ``root`` (once) and the species they hold."""
    species_file = root / "species.tsv"
    if species_file.is_file():
        return species_file
    species = generate_references(root, dh_rows, random.Random(7))
    tmp = species_file.with_suffix(".tmp")
    with tmp.open("w") as fh:
        for sp in species:
            fh.write("\t".join(map(str, sp)) + "\n")
    tmp.rename(species_file)  # the marker: the references are complete
    return species_file


def read_species(species_file: Path) -> list[tuple[str, ...]]:
    with species_file.open() as fh:
        return [tuple(line.rstrip("\n").split("\t")) for line in fh]


REFERENCE_FILES = (
    "eol/dh21/taxon.tab",
    "eol/vernacularnames.csv",
    "eol/scraped_page_ids.csv",
    "itis/species_level_taxonomy_chains.csv",
    "inat/dwca/taxa.csv",
    "inat/dwca/VernacularNames-english.csv",
)


# ------------------------------------------------------------------------ collection


@dataclass
class Collection:
    images: int = 0
    species: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    eol_sets: int = 0
    inat_classes: int = 0
    bioscan_labels: int = 0
    holdout_unseen: int = 0
    holdout_seen_images: int = 0
    bytes: int = 0
    seconds: float = 0.0


def zipf_counts(n: int, species: int, s: float) -> list[int]:
    """``species`` counts summing to ``n``, each at least 1, the rest in proportion to 1/rank^s."""
    weights = [1 / (r + 1) ** s for r in range(species)]
    total = sum(weights)
    extra = n - species
    counts = [1 + int(extra * w / total) for w in weights]
    for r in range(n - sum(counts)):  # rounding: the head gets the rest
        counts[r % species] += 1
    return counts


def write_collection(
    src: Path, refs: Path, species_file: Path, n: int, args: argparse.Namespace
) -> Collection:
    """N images in the source layouts under ``src`` (the references linked from ``refs``)."""
    started = time.monotonic()
    rng = random.Random(args.seed * 1_000_003 + n)
    jpegs = Jpegs(args.duplicates, args.seed)
    for rel in REFERENCE_FILES:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).symlink_to(refs / rel)
    all_species = read_species(species_file)
    n_species = max(1, n // 20)
    if n_species > len(all_species):
        raise SystemExit(
            f"N = {n} needs {n_species} species; the DH has {len(all_species)}: raise --dh-rows"
        )
    chosen = [all_species[i] for i in rng.sample(range(len(all_species)), n_species)]
    scraped = min(20_000, len(all_species) // 7)  # the page ids scraped_page_ids.csv lists
    del all_species
    counts = zipf_counts(n, n_species, args.zipf)
    sources = rng.choices(list(SOURCE_SHARES), weights=list(SOURCE_SHARES.values()), k=n_species)
    col = Collection(images=n, species=n_species)
    by_source: dict[str, list[tuple[tuple[str, ...], int]]] = {s: [] for s in SOURCE_SHARES}
    for sp, count, source in zip(chosen, counts, sources, strict=True):
        by_source[source].append((sp, count))
    col.counts = {s: sum(c for _, c in v) for s, v in by_source.items()}

    # EOL: images of all EOL species shuffled into sets; ~5% of pages are scraped-only ones
    eol_images: list[int] = []
    for (*_, page), count in by_source["eol"]:
        page_id = 90_000_000 + rng.randrange(scraped) if rng.random() < 0.05 else int(page)
        eol_images.extend([page_id] * count)
    rng.shuffle(eol_images)
    n_sets = max(MIN_EOL_SETS, math.ceil(len(eol_images) / EOL_SET_IMAGES))
    per_set = math.ceil(len(eol_images) / n_sets) if eol_images else 0
    members_of: dict[int, list[str]] = {}
    folder = src / "eol/images"
    folder.mkdir(parents=True, exist_ok=True)
    content_id = 10_000_000
    for s in range(n_sets):
        path = folder / f"images_{s + 1:02d}.tar.gz"
        with gzip.open(path, "wb", compresslevel=1) as gz:
            chunk = []
            for page_id in eol_images[s * per_set : (s + 1) * per_set]:
                content_id += rng.randint(1, 40)
                name = f"{content_id}_{page_id}_eol-full-size-copy.jpg"
                chunk.append(tar_member(name, jpegs.next()))
                members_of.setdefault(page_id, []).append(name)
                if len(chunk) == 256:
                    gz.write(b"".join(chunk))
                    chunk.clear()
            gz.write(b"".join(chunk) + b"\0" * (2 * tarfile.BLOCKSIZE))
        col.bytes += path.stat().st_size
    col.eol_sets = n_sets

    # iNat21: one class folder per species, numbered in name order
    inat = sorted(by_source["inat21"])
    for num, ((k, p, c, o, f, g, e, _), count) in enumerate(inat):
        folder = src / "inat21/train" / f"{num:05d}_{INAT_KINGDOM[k]}_{p}_{c}_{o}_{f}_{g}_{e}"
        folder.mkdir(parents=True)
        for _ in range(count):
            u = f"{rng.getrandbits(128):032x}"
            name = f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}.jpg"
            col.bytes += (folder / name).write_bytes(jpegs.next())
    col.inat_classes = len(inat)

    # BIOSCAN: records in order of the parts; most species and many genera not classified
    records = []
    nuc = ["".join(rng.choices("ACGT", k=658)) for _ in range(64)]
    total = col.counts["bioscan"]
    labels = set()
    for (_, _, _, o, f, g, e, _), count in by_source["bioscan"]:
        for _ in range(count):
            k = len(records)
            roll = rng.random()
            genus = g if roll < 0.9 else "not_classified"
            spec = f"{g} {e}" if roll < 0.3 else "not_classified"
            sampleid = f"BIOUG{68_000 + k // 96:05d}-{'ABCDEFGH'[k % 8]}{(k // 8) % 12 + 1:02d}"
            rec = dict.fromkeys(BIOSCAN_KEYS, "not_classified")
            rec |= {
                "sampleid": sampleid,
                "processid": f"BIOSCAN{1_000_000 + k}-21",
                "uri": f"BOLD:A{k % 26:02d}{k % 9973:04d}",
                "name": spec if spec != "not_classified" else genus,
                "phylum": "Arthropoda",
                "class": "Insecta",
                "order": o,
                "family": f,
                "genus": genus,
                "species": spec,
                "nucraw": nuc[k % len(nuc)],
                "image_file": f"{sampleid}.jpg",
                "large_insect_order": o,
                "chunk_number": 1 + k * BIOSCAN_PARTS // max(1, total),
                "copyright_license": "CreativeCommons - Attribution Non-Commercial Share-Alike",
                "copyright_holder": "CBG Photography Group",
                "photographer": "CBG Robotic Imager",
            }
            records.append(rec)
            labels.add((o, f, genus, spec))
    rng.shuffle(records)  # the published list is not in part order
    for rec in records:
        part = src / "bioscan/images" / f"part{rec['chunk_number']}"
        part.mkdir(parents=True, exist_ok=True)
        col.bytes += (part / rec["image_file"]).write_bytes(jpegs.next())
    meta = src / "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld"
    with meta.open("w") as fh:
        fh.write("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
    col.bioscan_labels = len(labels)

    # rare species: tail species held out with all their images, some EOL images listed
    rare = src / "rarespecies"
    rare.mkdir()
    tail = [sp for sp, _ in by_source["eol"] + by_source["inat21"]][-max(1, n_species // 50) :]
    unseen = {f"{INAT_KINGDOM[k]}-{p}-{c}-{o}-{f}-{g}-{e}": [] for k, p, c, o, f, g, e, _ in tail}
    seen = {}
    for (*_, g, e, page), _ in by_source["eol"][: max(1, n_species // 50)]:
        listed = members_of.get(int(page), [])[:30]
        if listed:
            seen[f"{g} {e}"] = [f"rarespecies/images/{m}" for m in listed]
    (rare / "unseen_in_training.json").write_text(json.dumps(unseen))
    (rare / "seen_in_training.json").write_text(json.dumps(seen))
    col.holdout_unseen = len(unseen)
    col.holdout_seen_images = sum(len(v) for v in seen.values())

    col.bytes += meta.stat().st_size
    col.seconds = round(time.monotonic() - started, 1)
    return col


# ----------------------------------------------------------------------- measurement


@dataclass
class Run:
    """One subprocess: what it cost."""

    wall: float
    cpu: float
    load: float  # the machine's 1-minute load average at the end: others' work slows wall time
    driver_peak: int  # bytes
    worker_peak: int  # bytes, the largest descendant
    tree_peak: int  # bytes: ru_maxrss of the process and its reaped descendants
    returncode: int


def _hwm(proc: psutil.Process) -> int:
    """The process's peak RSS so far (VmHWM), else its current RSS."""
    try:
        with open(f"/proc/{proc.pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
        return proc.memory_info().rss
    except (OSError, psutil.Error):
        return 0


def _cpu(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


def measured(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` (output to ``log``; ``env`` added to the environment), polling its
    process tree every POLL_SECONDS."""
    with log.open("wb") as fh:
        start = time.perf_counter()
        popen = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        driver = psutil.Process(popen.pid)
        peaks: dict[int, int] = {}
        cpus: dict[int, float] = {}
        known: dict[int, psutil.Process] = {}
        try:
            while True:
                pid, status, usage = os.wait4(popen.pid, os.WNOHANG)
                if pid:
                    break
                try:
                    tree = [driver, *driver.children(recursive=True)]
                except psutil.Error:
                    tree = [driver]
                for p in tree:
                    p = known.setdefault(p.pid, p)  # keep one object: cpu_times are cached per pid
                    peaks[p.pid] = max(peaks.get(p.pid, 0), _hwm(p))
                    cpus[p.pid] = max(cpus.get(p.pid, 0.0), _cpu(p))
                time.sleep(POLL_SECONDS)
        except BaseException:
            popen.send_signal(signal.SIGINT)
            popen.wait()
            raise
        wall = time.perf_counter() - start
    popen.returncode = os.waitstatus_to_exitcode(status)
    workers = [v for pid, v in peaks.items() if pid != popen.pid]
    return Run(
        wall=wall,
        load=os.getloadavg()[0],
        cpu=max(usage.ru_utime + usage.ru_stime, sum(cpus.values())),
        driver_peak=peaks.get(popen.pid, 0),
        worker_peak=max(workers, default=0),
        tree_peak=usage.ru_maxrss * 1024,
        returncode=popen.returncode,
    )


def tol_command() -> list[str]:
    tol = Path(sys.executable).with_name("tol")
    return [str(tol)] if tol.is_file() else [sys.executable, "-m", "treeoflife"]


def own_commands() -> set[str]:
    """Stages that ``tol <stage>`` runs alone."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    mapping = getattr(cli, "STAGE_COMMANDS", {})
    return {
        name
        for name in stage_names()
        if name in sub.choices and mapping.get(name, (name,)) == (name,)
    }


def stage_command(name: str, own: set[str]) -> tuple[list[str], str]:
    if name in own:
        return [*tol_command(), name], f"tol {name}"
    if not hasattr(cli, "STAGE_COMMANDS"):
        raise SystemExit(f"stage {name} has no command of its own, and cli.STAGE_COMMANDS is gone")
    return [sys.executable, "-c", RUN_ONE_STAGE, name], "cli, alone"


def db_size(out: Path) -> int:
    db = out / "build.sqlite"
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.is_file())


def in_stage_seconds(out: Path) -> dict[str, float]:
    """The seconds each stage recorded itself: its run and the hashing of the files it
    wrote, without process start-up and the database check on opening."""
    try:
        # closed at once: an open reader keeps the next stage's close from checkpointing the
        # log into the file, so that stage cannot note the database as it left it and the one
        # after checks it again (builddb.needs_check); a connection is freed only by the cycle
        # collector, not when it goes out of scope
        with closing(sqlite3.connect(f"file:{out / 'build.sqlite'}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT stage, summary FROM stages").fetchall()
        return {s: json.loads(summary).get("seconds") for s, summary in rows}
    except (sqlite3.Error, ValueError, AttributeError):
        return {}


def is_image_stage(name: str, given: set[str] | None) -> bool:
    if given is not None:
        return name in given
    return name in IMAGE_STAGE_NAMES


class StageRuns:
    """One N's build, run a stage at a time, each stage its own subprocess, then a no-op
    ``tol build``. With ``--from-stage``, the stages before it are not run: ``earlier`` (the
    stage rows of a previous run at this N) stands for them, and each stage from it on is
    forced, so it can run again; the fastest run of a stage counts."""

    def __init__(
        self, n: int, src: Path, out: Path, args: argparse.Namespace, earlier: dict | None
    ) -> None:
        self.n, self.src, self.out, self.args, self.earlier = n, src, out, args, earlier
        self.names = stage_names()
        self.first = self.names.index(args.from_stage) if args.from_stage else 0
        self.own = own_commands()
        self.common = ["--out", str(out), "--no-progress"]
        # only those take --workers
        self.with_workers = {s.name for s in all_stages() if s.uses_workers}
        self.config = out.parent / "tol.toml"
        self.logs = out.parent / "logs"
        self.result: dict = {"stages": [], "failed": None}
        self.best: dict[int, tuple[Run, float | None, list[float]]] = {}

    def start(self) -> None:
        self.config.write_text(CONFIG)
        self.logs.mkdir(exist_ok=True)
        if self.first and builddb.needs_check(self.out / builddb.DB_NAME):
            # a database changed behind tol's back (copied, restored, left by a killed
            # command) is checked by the next command that opens it: here, not inside the
            # first stage
            started = time.monotonic()
            builddb.close(builddb.connect(self.out), self.out, ended_well=True)
            print(
                f"N = {self.n:,}: database checked before the forced stages:"
                f" {time.monotonic() - started:.1f} s"
            )

    def stage_indices(self) -> range:
        return range(len(self.names))

    def command(self, i: int) -> tuple[list[str], str]:
        name = self.names[i]
        cmd, via = stage_command(name, self.own)
        cmd = cmd + self.common
        cmd += ["--sources", str(self.src), "--config", str(self.config)] if i == 0 else []
        cmd += ["--workers", str(self.args.workers)] if name in self.with_workers else []
        cmd += ["--force"] if self.first else []
        return cmd, via

    def run(self, i: int) -> bool:
        """Run stage ``i`` once more (the earlier run's figures for a stage before
        --from-stage); keep the faster of this run and those before. False once it failed."""
        name = self.names[i]
        if i < self.first:
            if not any(r["stage"] == name for r in self.result["stages"]):
                self.result["stages"].append({**self.earlier[name], "via": "earlier run"})
            return True
        cmd, _ = self.command(i)
        run = measured(cmd, self.logs / f"{i:02d}-{name}.log")
        inside = in_stage_seconds(self.out).get(name)
        best, best_inside, walls = self.best.get(i, (run, inside, []))
        walls.append(run.wall)
        if run.returncode != 0 or run.wall < best.wall:
            best, best_inside = run, inside
        self.best[i] = (best, best_inside, walls)
        return run.returncode == 0

    def record(self, i: int, prefix: str = "") -> bool:
        """The row of stage ``i`` (its fastest run), printed after ``prefix``; False if it
        failed (then the build stops there, its log's last lines printed)."""
        name = self.names[i]
        if i < self.first:
            row = next(r for r in self.result["stages"] if r["stage"] == name)
            print(
                f"{prefix}{name:<10} {'earlier run':<12} {row['wall']:8.2f} {row['in_stage_seconds'] or 0:8.2f}"
                f" {row['cpu']:8.2f} {row['cpu'] / row['wall']:8.2f} {row['wall'] / self.n * 1e6:8.1f}"
                f" {row['driver_peak'] / MIB:10.0f} {row['worker_peak'] / MIB:10.0f}"
                f" {row['db_bytes'] / MIB:8.1f} {row['load']:5.1f}",
                flush=True,
            )
            return True
        cmd, via = self.command(i)
        run, inside, walls = self.best[i]
        row = {"stage": name, "via": via, **asdict(run), "db_bytes": db_size(self.out)}
        row["in_stage_seconds"] = inside
        row["walls"] = walls
        row["image_stage"] = is_image_stage(name, self.args.image_stage_set)
        self.result["stages"].append(row)
        worker = f"{run.worker_peak / MIB:10.0f}" if run.worker_peak else f"{'-':>10}"
        inside = f"{inside:8.2f}" if isinstance(inside, (int, float)) else f"{'?':>8}"
        print(
            f"{prefix}{name:<10} {via:<12} {run.wall:8.2f} {inside} {run.cpu:8.2f} {run.cpu / run.wall:8.2f}"
            f" {run.wall / self.n * 1e6:8.1f} {run.driver_peak / MIB:10.0f} {worker}"
            f" {row['db_bytes'] / MIB:8.1f} {run.load:5.1f}"
            + (f"  runs {', '.join(f'{w:.1f}' for w in walls)}" if len(walls) > 1 else ""),
            flush=True,
        )
        if run.returncode == 0:
            return True
        log = self.logs / f"{i:02d}-{name}.log"
        text = log.read_text(errors="replace").splitlines()
        self.result["failed"] = {
            "stage": name,
            "returncode": run.returncode,
            "command": cmd,
            "log_tail": text[-40:],
        }
        print(f"\n{name} FAILED (exit {run.returncode}): {' '.join(cmd)}\n  last lines of {log}:")
        print("\n".join("    " + line for line in text[-40:]))
        return False

    def finish(self) -> dict:
        """The database check a resumed build pays, two no-op builds, and --one-build and
        --rss-growth when asked."""
        out, args, common, logs = self.out, self.args, self.common, self.logs
        # a command checks the database when it opens one tol did not close after a command
        # that ended well (builddb.needs_check): a build resumed after a kill pays this once
        started = time.monotonic()
        with closing(sqlite3.connect(f"file:{out / 'build.sqlite'}?mode=ro", uri=True)) as db:
            db.execute("PRAGMA quick_check(3)").fetchall()
        self.result["db_check_seconds"] = time.monotonic() - started
        print(
            f"database check on opening (PRAGMA quick_check, paid once by a build resumed after a kill): {self.result['db_check_seconds']:.2f} s",
            flush=True,
        )
        # twice: the first no-op build after a fresh one may still re-run stages (listed)
        for attempt in (1, 2):
            log = logs / f"noop-build-{attempt}.log"
            noop = measured([*tol_command(), "build", *common, "--workers", str(args.workers)], log)
            text = log.read_text(errors="replace")
            reran = [s for s in self.names if f"{s}: running" in text]
            self.result[f"noop_build_{attempt}"] = {**asdict(noop), "stages_rerun": reran}
            print(
                f"no-op tol build #{attempt}: {noop.wall:.2f} s wall, {noop.cpu:.2f} s cpu"
                f" (exit {noop.returncode}); stages re-run: {', '.join(reran) or 'none'}",
                flush=True,
            )
        if args.one_build:
            self.result["one_build"] = one_build(
                self.n, out, args, self.result["stages"], common, logs
            )
        if args.rss_growth:
            self.result["capped_build"] = capped_build(out, args, common, logs)
        return self.result


def print_header(first: str = "") -> None:
    print(
        (f"{first:>10} " if first else "")
        + f"{'stage':<10} {'via':<12} {'wall s':>8} {'in-stage':>8} {'cpu s':>8} {'cpu/wall':>8} {'µs/img':>8}"
        f" {'driver MiB':>10} {'worker MiB':>10} {'db MiB':>8} {'load':>5}",
        flush=True,
    )


def build_stages(
    n: int, src: Path, out: Path, args: argparse.Namespace, earlier: dict | None = None
) -> dict:
    """One N's build (:class:`StageRuns`), each forced stage ``--repeat`` times in a row."""
    runs = StageRuns(n, src, out, args, earlier)
    runs.start()
    print_header()
    for i in runs.stage_indices():
        for _ in range(args.repeat):
            if not runs.run(i):
                break
        if not runs.record(i):
            return runs.result
    return runs.finish()


def build_interleaved(builds: list[StageRuns], repeat: int) -> None:
    """Every N's build a stage at a time, the sizes taking turns: each forced stage runs at
    every N, ``repeat`` times over (N1, N2, N1, N2, ...), before the next stage. A stage's
    time at 10M comes from the difference between its times at two sizes, so both are
    measured minutes apart at most, not a whole build apart: this box's speed drifts by up
    to 1.5x over tens of minutes, and a drift between the two sizes' runs goes straight
    into the slope. A build whose stage failed stops there; the others go on."""
    for b in builds:
        b.start()
    print_header("N")
    for i in builds[0].stage_indices():
        live = [b for b in builds if not b.result["failed"]]
        going = live
        for _ in range(repeat):
            going = [b for b in going if b.run(i)]
        for b in live:
            b.record(i, prefix=f"{b.n:>10,} ")
    for b in builds:
        if not b.result["failed"]:
            print(f"\nN = {b.n:,}:")
            b.finish()


def build_from(
    args: argparse.Namespace, common: list[str], program: list[str] | None = None
) -> tuple[str, list[str]]:
    """The first measured stage (--from-stage, or the first after scan) and the one
    ``tol build --from`` command that runs it and every stage after it (through
    ``program``, tol's command line by default)."""
    start = args.from_stage or stage_names()[1]
    return start, [
        *(program or tol_command()),
        "build",
        *common,
        "--workers",
        str(args.workers),
        "--from",
        start,
    ]


def capped_build(out: Path, args: argparse.Namespace, common: list[str], logs: Path) -> dict:
    """The same stages as one ``tol build --from`` with SQLite's caches cut to 1 MiB
    (TOL_SQLITE_CACHE_MIB): the peak RSS without the caches, whose size the page-cache
    setting fixes whatever N (builddb.cache_mib), so its growth is what grows with N. Run
    through :mod:`stage_peaks`, which reads each stage's own peak in the process."""
    start, cmd = build_from(args, common, [sys.executable, str(Path(stage_peaks.__file__))])
    log = logs / "capped-build.log"
    run = measured(cmd, log, env={"TOL_SQLITE_CACHE_MIB": "1"})
    text = log.read_text(errors="replace")
    peaks, starts = stage_peaks.parse(text), stage_peaks.parse(text, stage_peaks.START)
    print(
        f"tol build --from {start} with SQLite's caches at 1 MiB (exit {run.returncode}):"
        f" {run.wall:.1f} s wall, driver peak {run.driver_peak / MIB:.0f} MiB,"
        f" largest worker {run.worker_peak / MIB:.0f} MiB; each stage's own peak: "
        + ", ".join(f"{name} {peak / MIB:.0f}" for name, peak in peaks.items())
        + "; the RSS each started on: "
        + ", ".join(f"{name} {rss / MIB:.0f}" for name, rss in starts.items()),
        flush=True,
    )
    return asdict(run) | {"stage_peaks": peaks, "stage_starts": starts}


def one_build(
    n: int, out: Path, args: argparse.Namespace, alone: list[dict], common: list[str], logs: Path
) -> dict:
    """The stages from --from-stage (or the first after scan) on, once more, as one ``tol
    build`` runs them: one process and one connection. Each stage's own seconds there
    against those of its own process: a stage slowed by what an earlier one left on the
    connection (temporary tables, settings) shows here, and in no per-stage figure."""
    start, cmd = build_from(args, common)
    run = measured(cmd, logs / "one-build.log")
    inside = in_stage_seconds(out)
    own = {r["stage"]: r.get("in_stage_seconds") for r in alone if r.get("via") != "earlier run"}
    rows = {name: {"one_build": inside.get(name), "own_process": own.get(name)} for name in own}
    print(
        f"\none tol build --from {start} (exit {run.returncode}): {run.wall:.1f} s wall,"
        f" peak {run.driver_peak / MIB:.0f} MiB; each stage's own seconds:"
    )
    print(f"{'stage':<10} {'own proc':>9} {'one build':>9} {'ratio':>6}")
    for name, row in rows.items():
        a, b = row["own_process"], row["one_build"]
        ratio = b / a if a and b is not None else None
        flag = "  << slower in one build" if ratio and ratio > 1.5 and b - a > 1 else ""
        print(f"{name:<10} {a or 0:9.2f} {b or 0:9.2f} {ratio or 0:6.2f}{flag}")
    return {**asdict(run), "stages": rows, "n": n}


# --------------------------------------------------------------------- extrapolation


def at_target(n1: int, t1: float, n2: int, t2: float, target: int) -> float:
    """A stage's time at ``target`` from two sizes: the larger of a power law a·N^b and a
    straight line a + c·N through both. The power law alone flatters a stage with a large
    fixed cost (resolve's reference loading makes b ~0.3, as if its per-image work shrank);
    the line alone hides growth faster than N. Neither can be low when the other is high."""
    power = t2 * (target / n2) ** (math.log(t2 / t1) / math.log(n2 / n1))
    line = t2 + (t2 - t1) / (n2 - n1) * (target - n2)
    return max(power, line)


def extrapolate(runs: list[dict], target: int) -> dict:
    """Each stage's time at ``target`` from the two largest N (see :func:`at_target`)."""
    (n1, r1), (n2, r2) = sorted((r["n"], r) for r in runs if not r["build"]["failed"])[-2:]
    nlogn_b = 1 + math.log(math.log(n2) / math.log(n1)) / math.log(n2 / n1)
    first = {s["stage"]: s for s in r1["build"]["stages"]}
    out: dict = {"n1": n1, "n2": n2, "target": target, "nlogn_b": nlogn_b, "stages": {}}
    print(
        f"\nextrapolation to {target:,} images from N = {n1:,} and {n2:,}: the larger of"
        f" a·N^b and a + c·N (N log N gives b = {nlogn_b:.3f}; peak RSS: a straight line)"
    )
    print(
        f"{'stage':<10} {'b wall':>7} {'b cpu':>7} {'wall@target s':>14} {'cpu@target s':>13}"
        f" {'peak MiB@target':>16}"
    )
    for s2 in r2["build"]["stages"]:
        s1 = first.get(s2["stage"])
        if s1 is None:
            continue
        fit = {}
        for key in ("wall", "cpu"):
            t1, t2 = max(s1[key], 1e-3), max(s2[key], 1e-3)
            b = math.log(t2 / t1) / math.log(n2 / n1)
            fit[f"b_{key}"] = b
            fit[f"{key}_at_target"] = at_target(n1, t1, n2, t2, target)
        inside = (s1.get("in_stage_seconds"), s2.get("in_stage_seconds"))
        if all(isinstance(t, (int, float)) for t in inside):
            fit["in_stage_at_target"] = at_target(
                n1, max(inside[0], 1e-3), n2, max(inside[1], 1e-3), target
            )
        p1, p2 = (max(s["driver_peak"], s["worker_peak"]) for s in (s1, s2))
        fit["peak_at_target"] = p2 + (p2 - p1) / (n2 - n1) * (target - n2)
        fit["image_stage"] = s2["image_stage"]
        out["stages"][s2["stage"]] = fit
        worse = [k for k in ("wall", "cpu") if fit[f"b_{k}"] > nlogn_b + 0.05]
        flag = f"  {' and '.join(worse)} faster than N log N" if worse else ""
        print(
            f"{s2['stage']:<10} {fit['b_wall']:7.3f} {fit['b_cpu']:7.3f} {fit['wall_at_target']:14.0f}"
            f" {fit['cpu_at_target']:13.0f} {fit['peak_at_target'] / MIB:16.0f}{flag}"
        )
    fits = out["stages"]
    other = [k for k, f in fits.items() if not f["image_stage"]]
    image = [k for k, f in fits.items() if f["image_stage"]]
    other_s, other_cpu, image_s, image_cpu = (
        sum(fits[k][f"{m}_at_target"] for k in ks)
        for ks, m in ((other, "wall"), (other, "cpu"), (image, "wall"), (image, "cpu"))
    )
    out |= {
        "non_image_stages": other,
        "non_image_seconds": other_s,
        "non_image_cpu_seconds": other_cpu,
        "image_seconds": image_s,
        "image_cpu_seconds": image_cpu,
    }
    print(
        f"non-image stages ({', '.join(other)}): {other_s:,.0f} s wall ({other_cpu:,.0f} s cpu)"
        f" at {target:,} = {other_s / TARGET_SECONDS:.2f}× the {TARGET_SECONDS // 60}-minute target"
    )
    # `tol build` runs every stage in one process: start-up is paid once there, where this
    # benchmark pays it in each stage's process; the database check is counted once (a
    # resumed build's), though a build that was not killed does not pay it
    inside_s = sum(fits[k].get("in_stage_at_target", fits[k]["wall_at_target"]) for k in other)
    check = r2["build"].get("db_check_seconds", 0.0)
    check_at = at_target(
        n1, max(r1["build"].get("db_check_seconds", 0.0), 1e-3), n2, max(check, 1e-3), target
    )
    out |= {"non_image_in_stage_seconds": inside_s, "db_check_seconds_at_target": check_at}
    print(
        f"  the same stages' own runs (in-stage), as one `tol build` process runs them:"
        f" {inside_s:,.0f} s + the database check on opening it once ({check_at:,.0f} s)"
        f" = {(inside_s + check_at) / TARGET_SECONDS:.2f}× the target"
    )
    ones = [r["build"].get("one_build", {}).get("stages", {}) for r in (r1, r2)]
    if all(ones) and all(
        isinstance(o.get(k, {}).get("one_build"), (int, float)) for o in ones for k in other
    ):
        # the stages as a user's `tol build` runs them, each stage's own seconds measured
        # in one process at both sizes (--one-build), each extrapolated as above
        one = sum(
            at_target(
                n1,
                max(ones[0][k]["one_build"], 1e-3),
                n2,
                max(ones[1][k]["one_build"], 1e-3),
                target,
            )
            for k in other
        )
        out["non_image_one_build_seconds"] = one
        print(
            f"  measured as one `tol build --from` at both sizes (--one-build): {one:,.0f} s"
            f" + the check once ({check_at:,.0f} s) = {(one + check_at) / TARGET_SECONDS:.2f}×"
            " the target"
        )
    print(
        f"image stages ({', '.join(image)}): {image_s:,.0f} s wall ({image_cpu:,.0f} s cpu) at {target:,}"
    )
    capped = [r["build"].get("capped_build") for r in (r1, r2)]
    if all(capped):
        # a straight line through the capped peaks, plus what SQLite may hold at most:
        # the page cache, a sort as large (bounded by it) and the temporary tables' half
        caches = (2 * builddb.CACHE_MIB + builddb.CACHE_MIB // 2) * MIB
        rows = {}
        for role in ("driver_peak", "worker_peak"):  # workers never open the database
            p1, p2 = capped[0][role], capped[1][role]
            rows[role] = p2 + (p2 - p1) / (n2 - n1) * (target - n2)
        rows["driver_peak"] += caches
        out["capped_peak_at_target"] = rows
        print(
            f"peak RSS of one `tol build` at {target:,}: a straight line through its peaks with"
            f" SQLite's caches at 1 MiB ({capped[0]['driver_peak'] / MIB:,.0f} and"
            f" {capped[1]['driver_peak'] / MIB:,.0f} MiB), plus the caches' bound"
            f" ({caches / MIB:,.0f} MiB): driver {rows['driver_peak'] / MIB:,.0f} MiB,"
            f" largest worker {rows['worker_peak'] / MIB:,.0f} MiB"
            f" = {max(rows.values()) / MEMORY_TARGET:.2f}× 2 GiB"
        )
        out["capped_stage_peaks_at_target"] = capped_stage_lines(capped, n1, n2, target, caches)
    return out


def capped_stage_lines(
    capped: list[dict], n1: int, n2: int, target: int, caches: int
) -> dict[str, float]:
    """Each stage's own peak in the capped builds (:mod:`stage_peaks`), drawn to ``target``
    by a straight line, plus the caches' bound: the build's line joins whichever stage
    peaked at each N, and the stage with the steepest line may not be the one that peaked
    at either."""
    first, second = (c.get("stage_peaks") or {} for c in capped)
    lines = {
        name: second[name] + (second[name] - first[name]) / (n2 - n1) * (target - n2) + caches
        for name in second
        if name in first
    }
    if not lines:
        return lines
    starts = [c.get("stage_starts") or {} for c in capped]
    print(f"each stage's own peak in those builds, a line to {target:,} plus the caches' bound")
    print("(and the RSS it started on: what the stages before it left)")
    print(
        f"{'stage':<10} {f'{n1:,}':>11} {f'{n2:,}':>11} {'MiB/M':>7} {f'at {target:,}':>13}"
        f" {'started on':>13}"
    )
    for name, at in lines.items():
        slope = (second[name] - first[name]) / (n2 - n1) * 1_000_000
        began = " / ".join(f"{s[name] / MIB:,.0f}" for s in starts if name in s)
        print(
            f"{name:<10} {first[name] / MIB:11,.0f} {second[name] / MIB:11,.0f}"
            f" {slope / MIB:7,.0f} {at / MIB:13,.0f} {began:>13}"
        )
    name = max(lines, key=lines.__getitem__)
    print(
        f"largest: {name}, {lines[name] / MIB:,.0f} MiB = {lines[name] / MEMORY_TARGET:.2f}× 2 GiB"
    )
    return lines


def memory_summary(runs: list[dict], fits: dict | None) -> dict:
    peak, where = 0, ""
    for r in runs:
        for s in r["build"]["stages"]:
            for role in ("driver_peak", "worker_peak"):
                if s[role] > peak:
                    peak, where = s[role], f"{s['stage']} {role.split('_')[0]}, N = {r['n']:,}"
    line = f"max peak RSS: {peak / MIB:,.0f} MiB ({where}) = {peak / MEMORY_TARGET:.2f}× 2 GiB"
    out = {"max_peak": peak, "where": where}
    if fits:
        at, stage = max((f["peak_at_target"], k) for k, f in fits["stages"].items())
        line += (
            f"; at {fits['target']:,} (linear): {at / MIB:,.0f} MiB ({stage}) = "
            f"{at / MEMORY_TARGET:.2f}× 2 GiB, an overestimate: SQLite's caches fill as N grows "
            "but are capped (256 MiB of pages, a sort, half for temporary tables); "
            "--rss-growth measures the growth beyond them"
        )
        out |= {"max_peak_at_target": at, "max_peak_at_target_stage": stage}
    print(line)
    return out


# ------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "sizes",
        type=int,
        nargs="*",
        default=[20_000, 100_000],
        metavar="N",
        help="images per build (default: 20000 100000, so `make bench` runs it as is)",
    )
    ap.add_argument(
        "--dh-rows",
        type=int,
        default=2_500_000,
        help="bench_resolve's DH size parameter: the taxon.tab has ~1.34× as many rows "
        "(default 2,500,000: 3.35M rows); it must hold N/20 species (0.8× this)",
    )
    ap.add_argument("--workdir", type=Path, help="work directory (kept; reused when it exists)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--zipf", type=float, default=1.0, help="exponent of the species image counts")
    ap.add_argument(
        "--duplicates",
        type=float,
        default=0.02,
        help="share of images that repeat an earlier picture (default 0.02)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=int, default=10_000_000, help="extrapolate to this N")
    ap.add_argument(
        "--image-stages",
        help="comma-separated stages that count as image work (default: scan, the image "
        "pass, write and verify)",
    )
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument(
        "--from-stage",
        choices=stage_names()[1:],
        help="measure a change to later stages in minutes: keep each N's build in --workdir"
        " and re-run only this stage and those after it (forced); the figures of the stages"
        " before it come from --earlier",
    )
    ap.add_argument(
        "--earlier",
        type=Path,
        help="with --from-stage: the --json of the run that made the builds in --workdir",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="with --from-stage: run each forced stage K times in a row and keep its fastest"
        " run (every run's wall time is in --json): this box's speed drifts by up to 1.5x"
        " between runs minutes apart",
    )
    ap.add_argument(
        "--interleave",
        action="store_true",
        help="with --from-stage: run each forced stage at every N in turn (N1, N2, N1, N2 with"
        " --repeat 2) before the next stage, so the two sizes a slope comes from are measured"
        " minutes apart, not a whole build apart",
    )
    ap.add_argument(
        "--one-build",
        action="store_true",
        help="after the stage-by-stage run, run the same stages again as one `tol build`"
        " (one process, one connection) and compare each stage's seconds",
    )
    ap.add_argument(
        "--rss-growth",
        action="store_true",
        help="after the stage-by-stage run, run the same stages as one `tol build` with"
        " SQLite's caches at 1 MiB, and extrapolate its peak RSS plus the caches' bound",
    )
    ap.add_argument(
        "--collections-only",
        action="store_true",
        help="write the collections into --workdir and stop (a later run builds them)",
    )
    args = ap.parse_args()
    args.image_stage_set = set(args.image_stages.split(",")) if args.image_stages else None
    earlier: dict[int, dict] = {}
    if args.repeat < 1 or (args.repeat > 1 and not args.from_stage):
        ap.error("--repeat needs --from-stage (only forced stages can run again) and K >= 1")
    if args.interleave and not (args.from_stage and len(set(args.sizes)) >= 2):
        ap.error("--interleave needs --from-stage (builds that exist) and two sizes or more")
    if args.from_stage:
        if not (args.workdir and args.earlier):
            ap.error("--from-stage needs --workdir (the builds) and --earlier (their figures)")
        for run in json.loads(args.earlier.read_text())["runs"]:
            earlier[run["n"]] = {s["stage"]: s for s in run["build"]["stages"]}
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-build-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    names = stage_names()
    print(
        f"cores {os.cpu_count()}, workers {args.workers}; work directory {work}\n"
        f"stages: {', '.join(names)}; image stages: "
        + ", ".join(n for n in names if is_image_stage(n, args.image_stage_set))
    )
    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "stages": names}
    try:
        t0 = time.monotonic()
        refs = work / f"refs-{args.dh_rows}"
        species_file = write_references(refs, args.dh_rows)
        dh_rows = sum(1 for _ in (refs / "eol/dh21/taxon.tab").open("rb")) - 1
        print(f"references: DH taxon.tab {dh_rows:,} rows ({time.monotonic() - t0:.0f} s)")
        report["dh_rows"] = dh_rows
        runs = []
        turns: list[StageRuns] = []  # --interleave
        for n in args.sizes:
            base = work / f"n{n}-seed{args.seed}"
            src, out = base / "sources", base / "out"
            if not (base / "collection.json").is_file():
                shutil.rmtree(base, ignore_errors=True)
                col = write_collection(src, refs, species_file, n, args)
                (base / "collection.json").write_text(json.dumps(asdict(col)))
            col = Collection(**json.loads((base / "collection.json").read_text()))
            if args.collections_only:
                print(f"N = {n:,}: collection in {src} ({col.seconds:.0f} s)")
                continue
            print(
                f"\nN = {n:,}: {col.species:,} species; EOL {col.counts['eol']:,} in {col.eol_sets} sets,"
                f" iNat21 {col.counts['inat21']:,} in {col.inat_classes:,} classes,"
                f" BIOSCAN {col.counts['bioscan']:,} ({col.bioscan_labels:,} labels);"
                f" holdout {col.holdout_unseen} unseen species, {col.holdout_seen_images} seen images;"
                f" {col.bytes / MIB:,.0f} MiB, written in {col.seconds:.0f} s"
            )
            if args.from_stage:
                if n not in earlier or not (out / "build.sqlite").is_file():
                    raise SystemExit(
                        f"--from-stage: no build of N = {n:,} in {out} and {args.earlier}"
                    )
            else:
                shutil.rmtree(out, ignore_errors=True)
            subprocess.run(["sync"], check=False)
            if args.interleave:  # built below, the sizes taking turns
                turns.append(StageRuns(n, src, out, args, earlier.get(n)))
                runs.append({"n": n, "collection": asdict(col), "build": turns[-1].result})
                continue
            build = build_stages(n, src, out, args, earlier.get(n))
            runs.append({"n": n, "collection": asdict(col), "build": build})
            if not args.keep and not args.workdir:
                shutil.rmtree(base)
        if turns:
            print(f"\nN = {', '.join(f'{b.n:,}' for b in turns)}, taking turns stage by stage:")
            build_interleaved(turns, args.repeat)
        report["runs"] = runs
        ok = [r for r in runs if not r["build"]["failed"]]
        fits = extrapolate(runs, args.target) if len({r["n"] for r in ok}) >= 2 else None
        report["extrapolation"] = fits
        report["memory"] = memory_summary(runs, fits)
    finally:
        if args.json:
            args.json.write_text(json.dumps(report, indent=1) + "\n")
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")


if __name__ == "__main__":
    main()
