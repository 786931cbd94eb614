"""Print a markdown table of entity F1 per language from `spacy_mclner evaluate --output` files.

A row may name several files (one per seed, comma-separated): its cells are then the mean and
the sample standard deviation over them. Speed: see `spacy_mclner bench`.

Usage: python scripts/results_table.py NAME=metrics/dev_x.json[,metrics/dev_x_seed1.json...] [NAME=...]
"""
import statistics
import sys
from typing import Dict, List

import srsly


def _cell(values: List[float]) -> str:
    mean = 100 * statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def table(results: Dict[str, List[dict]]) -> str:
    langs: List[str] = sorted({lang for runs in results.values() for scores in runs for lang in scores["ents_per_lang"]})
    targets = [lang for lang in langs if lang != "en"]
    lines = [
        "| pipeline | seeds | " + " | ".join(langs) + " | avg (" + ", ".join(targets) + ") |",
        "|---|---:|" + "---:|" * (len(langs) + 1),
    ]
    for name, runs in results.items():
        cells = []
        for lang in langs:
            values = [scores["ents_per_lang"][lang]["f"] for scores in runs if lang in scores["ents_per_lang"]]
            cells.append(_cell(values) if values else "-")
        averages = [statistics.fmean(scores["ents_per_lang"][lang]["f"] for lang in targets) for scores in runs]
        lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + f" | {_cell(averages)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    named = dict(arg.split("=", 1) for arg in sys.argv[1:])
    print(table({name: [srsly.read_json(path) for path in paths.split(",")] for name, paths in named.items()}))
