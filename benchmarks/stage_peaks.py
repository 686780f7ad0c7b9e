"""``tol ARGS`` with each stage's own peak RSS printed (``STAGE_PEAK <stage> <KiB>``).

One ``tol build`` runs every stage in one process, so the process's peak says which size
was largest but not which stage reached it, and a line through two builds' peaks may join
one stage's peak at the smaller N to another's at the larger. Here the kernel's high-water
mark (``VmHWM``) is reset as each stage starts (Linux: ``5`` written to
``/proc/self/clear_refs``), so what it reads when the stage ends is that stage's peak, on
top of whatever the stages before it left; that is printed too, as the RSS the stage
started on (``STAGE_START <stage> <KiB>``). ``bench_build --rss-growth`` runs its build
through this and draws a line per stage.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from typing import Any

from treeoflife import cli, stages

PREFIX = "STAGE_PEAK"
START = "STAGE_START"
CPU = "STAGE_CPU_MS"  # the stage's CPU time (user + system, this process's threads)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_high_water() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _measured(stage: stages.Stage) -> stages.Stage:
    def run(ctx: stages.BuildContext) -> dict[str, Any]:
        print(f"{START} {stage.name} {_status_kib('VmRSS')}", file=sys.stderr, flush=True)
        _reset_high_water()
        cpu = time.process_time()
        try:
            return stage.run(ctx)
        finally:
            print(f"{PREFIX} {stage.name} {_status_kib('VmHWM')}", file=sys.stderr, flush=True)
            ms = round((time.process_time() - cpu) * 1000)
            print(f"{CPU} {stage.name} {ms}", file=sys.stderr, flush=True)

    return dataclasses.replace(stage, run=run)


def parse(text: str, prefix: str = PREFIX, unit: int = 1024) -> dict[str, int]:
    """Each stage's peak in bytes (with ``prefix=START``, the RSS it started on; with
    ``CPU`` and ``unit=1``, its CPU milliseconds), from the output of a run of this module."""
    peaks: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            _, name, kib = line.split()
            peaks[name] = max(peaks.get(name, 0), int(kib) * unit)
    return peaks


def install(
    replace: Callable[[stages.Stage], stages.Stage] = lambda stage: stage,
) -> None:
    """Every stage of this process's builds measured, after ``replace`` (a benchmark's
    stand-in for a stage, or the stage itself)."""
    registry = stages.all_stages
    stages.all_stages = lambda: [_measured(replace(s)) for s in registry()]


if __name__ == "__main__":
    install()
    sys.exit(cli.main(sys.argv[1:]))
