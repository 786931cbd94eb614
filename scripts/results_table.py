"""Print a markdown table of entity F1 per language (speed: see `spacy_mclner bench`) from `spacy_mclner evaluate --output` files.

Usage: python scripts/results_table.py NAME=metrics/dev_x.json [NAME=...]
"""
import sys
from typing import Dict, List

import srsly


def table(results: Dict[str, dict]) -> str:
    langs: List[str] = sorted({lang for scores in results.values() for lang in scores["ents_per_lang"]})
    targets = [lang for lang in langs if lang != "en"]
    lines = [
        "| pipeline | " + " | ".join(langs) + " | avg (" + ", ".join(targets) + ") |",
        "|---|" + "---:|" * (len(langs) + 1),
    ]
    for name, scores in results.items():
        per_lang = scores["ents_per_lang"]
        target_avg = sum(per_lang[lang]["f"] for lang in targets) / len(targets)
        cells = [f"{100 * per_lang[lang]['f']:.1f}" if lang in per_lang else "-" for lang in langs]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {100 * target_avg:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    named = dict(arg.split("=", 1) for arg in sys.argv[1:])
    print(table({name: srsly.read_json(path) for name, path in named.items()}))
