"""Learning curves from `spacy train` runs, and the rule that says whether a run has plateaued.

A run's curve is the JSON lines that spacy_mclner.ConsoleLogger.v1 writes at each
evaluation (`output_file`): the step, the words and seconds so far, and F1 per
dev language. A comparison is only evidence once every run in it has converged,
so each curve is checked against one rule (plateau): the last third of the run
raised the best target macro F1 by less than `tolerance` points. F1 on a few
hundred dev sentences per language moves by a point or two between evaluations
for no reason but the sample, more than the tolerance, so the rule is read on
the curve's moving average over SMOOTH evaluations (and reported raw too).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence

import srsly

from ..util import headless_pyplot, markdown_table

PLATEAU_TOLERANCE = 0.5  # F1 points
SMOOTH = 3  # evaluations in the moving average that the plateau rule reads
MAX_NAMED_TARGETS = 8  # the plot names the target languages on its axis up to this many


@dataclass
class Curve:
    name: str
    steps: List[int]
    target_f: List[float]  # macro F1 over the target languages at each evaluation
    seconds: List[float]

    @property
    def best(self) -> float:
        return max(self.target_f)

    @property
    def best_step(self) -> int:
        return self.steps[self.target_f.index(self.best)]


def read_curve(name: str, path: Path, targets: Sequence[str]) -> Curve:
    """The curve of one run from its logger file, averaged over `targets`."""
    if not path.exists():
        raise FileNotFoundError(f"No learning curve for {name}: {path} does not exist")
    steps, target_f, seconds = [], [], []
    for line_no, record in enumerate(srsly.read_jsonl(path), start=1):
        per_lang = record.get("f_per_lang") or {}
        missing = [lang for lang in targets if lang not in per_lang]
        if missing:
            raise ValueError(f"{path}, line {line_no}: no F1 for {', '.join(missing)} (the dev set must hold them)")
        steps.append(int(record["step"]))
        target_f.append(sum(per_lang[lang] for lang in targets) / len(targets))
        seconds.append(float(record.get("seconds") or 0))
    if not steps:
        raise ValueError(f"{path} holds no evaluations")
    return Curve(name, steps, target_f, seconds)


def moving_average(values: Sequence[float], window: int) -> List[float]:
    """Centred moving average; the ends average what the window holds there."""
    half = window // 2
    return [
        sum(values[max(0, i - half) : i + half + 1]) / len(values[max(0, i - half) : i + half + 1])
        for i in range(len(values))
    ]


def plateau(curve: Curve, tolerance: float = PLATEAU_TOLERANCE, smooth: int = SMOOTH) -> Dict[str, Any]:
    """Whether the run's last third gained less than `tolerance` F1 over its first two thirds' best.

    Read on the moving average over `smooth` evaluations (1: the raw curve). A run
    that peaked earlier and fell passes; one still rising does not. (Read the
    other way, "the best of the last third is within `tolerance` of the best
    overall" holds for any curve still rising, so it cannot tell a plateau.)
    """
    values = moving_average(curve.target_f, smooth)
    cut = curve.steps[-1] * 2 / 3
    early = [f for step, f in zip(curve.steps, values) if step <= cut]
    late = [f for step, f in zip(curve.steps, values) if step > cut]
    if not early or not late:
        raise ValueError(f"{curve.name}: too few evaluations to split the run in thirds")
    gain = max(late) - max(early)
    return {"best_first_two_thirds": max(early), "best_last_third": max(late), "gain_last_third": gain,
            "plateaued": gain < tolerance}


def at_steps_table(curves: List[Curve], steps: Sequence[int]) -> List[str]:
    """Markdown rows: each run's target F1 at `steps` and their mean, to compare runs at equal steps.

    One evaluation on a few hundred sentences moves by points; the mean over
    several steps is the steadier comparison.
    """
    rows = []
    for curve in curves:
        missing = [step for step in steps if step not in curve.steps]
        if missing:
            raise ValueError(f"{curve.name} has no evaluation at step {missing[0]}")
        values = [curve.target_f[curve.steps.index(step)] for step in steps]
        seconds = curve.seconds[curve.steps.index(steps[-1])]
        rows.append([curve.name, *(f"{v:.1f}" for v in values), f"{sum(values) / len(values):.1f}", f"{seconds:.0f}"])
    return markdown_table(["run", *(f"step {step}" for step in steps), "mean", "seconds to the last"], rows)


def curves_report(curves: List[Curve], targets: Sequence[str], output: Path, at_steps: Sequence[int] = ()) -> str:
    """Write OUTPUT.json, OUTPUT.md and OUTPUT.png; return the markdown."""
    output.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for curve in curves:
        raw = plateau(curve, smooth=1)
        rows.append({"name": curve.name, "best": curve.best, "best_step": curve.best_step, "steps": curve.steps[-1],
                     "seconds": curve.seconds[-1], **plateau(curve), "raw_gain_last_third": raw["gain_last_third"],
                     "raw_plateaued": raw["plateaued"]})
    lines = [
        f"Dev macro F1 over {', '.join(targets)}. Plateau: on the moving average over {SMOOTH} evaluations, "
        f"the last third of the run gained < {PLATEAU_TOLERANCE} F1 over the best of its first two thirds "
        "(raw: the same rule on the unsmoothed curve).",
        "",
    ]
    header = [
        "run", "steps", "best F1", "at step", "smoothed: best in first 2/3", "best in last 1/3", "plateaued",
        "raw: gain in last 1/3", "plateaued", "seconds (train + evals)",
    ]
    table = [
        [
            row["name"], row["steps"], f"{row['best']:.1f}", row["best_step"], f"{row['best_first_two_thirds']:.1f}",
            f"{row['best_last_third']:.1f}", "yes" if row["plateaued"] else "no", f"{row['raw_gain_last_third']:+.1f}",
            "yes" if row["raw_plateaued"] else "no", f"{row['seconds']:.0f}",
        ]
        for row in rows
    ]
    lines += markdown_table(header, table, aligns="lrrrrrlrlr")
    for row in rows:
        failed = [rule for rule, key in (("smoothed", "plateaued"), ("raw", "raw_plateaued")) if not row[key]]
        if failed:
            lines.append(
                f"\n{row['name']} has not plateaued by the {' and '.join(failed)} rule{'s' if len(failed) > 1 else ''} (its last third gained "
                f"{row['gain_last_third']:+.1f} smoothed, {row['raw_gain_last_third']:+.1f} raw): it may still be "
                "learning, so its scores are not those of a converged run; train it for more steps and check again."
            )
    if at_steps:
        lines += ["", f"Dev macro F1 over {', '.join(targets)} at equal steps:", ""] + at_steps_table(curves, at_steps)
    markdown = "\n".join(lines) + "\n"
    srsly.write_json(output.with_suffix(".json"), {"targets": list(targets), "runs": rows,
                     "curves": {c.name: {"steps": c.steps, "target_f": c.target_f, "seconds": c.seconds} for c in curves}})
    output.with_suffix(".md").write_text(markdown, encoding="utf8")
    _plot(curves, targets, output.with_suffix(".png"))
    return markdown


def _plot(curves: List[Curve], targets: Sequence[str], path: Path) -> None:
    """Two panels: the whole runs, and the same curves with the F1 axis cut to the values of each
    run's second half, where the plateaus of runs a point or two apart can be told apart."""
    pyplot = headless_pyplot()

    figure, (whole, plateau) = pyplot.subplots(1, 2, figsize=(11, 4.8))
    for curve in curves:
        label = f"{curve.name} ({curve.seconds[-1] / 60:.0f} min)"
        for axes in (whole, plateau):
            axes.plot(curve.steps, curve.target_f, marker=".", label=label if axes is whole else None)
    later = [f for curve in curves for step, f in zip(curve.steps, curve.target_f) if step >= curve.steps[-1] / 2]
    if later:
        plateau.set_ylim(min(later) - 1, max(later) + 1)
    # More than a handful of languages do not fit beside the axis: the markdown table names them.
    named = ", ".join(targets) if len(targets) <= MAX_NAMED_TARGETS else f"{len(targets)} target languages"
    for axes, title in ((whole, "whole runs"), (plateau, "F1 axis cut to the runs' second halves")):
        axes.set_xlabel("training step")
        axes.set_ylabel(f"dev macro F1 ({named})")
        axes.set_title(title, fontsize="medium")
        axes.grid(alpha=0.3)
    figure.legend(loc="lower center", ncol=min(3, len(curves)), fontsize="small", frameon=False)
    rows = -(-len(curves) // 3)
    figure.tight_layout(rect=(0, 0.06 * rows, 1, 1))
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
