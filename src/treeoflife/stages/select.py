"""Select (stage ``select``): the ``[select]`` rules, after labels are resolved, before the plan.

Records the images the rules leave out in ``unselected`` (plan skips them) and a reject per
image with the rule's reason code, so the summary, the dataset card and ``tol diff`` say
why an image is not in the dataset. The rules are in :mod:`treeoflife.selection.rules`.
"""

from __future__ import annotations

from typing import Any

from treeoflife import builddb
from treeoflife.selection import rules
from treeoflife.stages import BuildContext, Stage

NAME = rules.STAGE


def inputs(ctx: BuildContext) -> Any:
    # the labels and images it reads are covered by the fingerprints of the stages before it
    return ctx.config.section_json("select")


def run(ctx: BuildContext) -> dict[str, Any]:
    with builddb.transaction(ctx.db) as db:
        counts = rules.apply(db, ctx.config.select)
    left_out = sum(counts.values())
    ctx.log(
        "select: "
        + (
            f"{left_out} images left out (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
            if counts
            else "no [select] rules, every image kept"
        )
    )
    return {"left_out": left_out, "rules": counts}


STAGE = Stage(
    NAME, "apply the [select] rules: which resolved images the dataset keeps", run, inputs
)
