"""Side-by-side evaluation report of several pipelines: JSON, markdown and a bar chart.

The project compares the baseline, MCL-NER and, once self-training is there,
each of its rounds on the same test data. Every pipeline is scored by
evaluate.evaluate_pipeline (seqeval, strict IOB2) and the report adds the
macro average of F1 over the target languages, the paper's headline number.
"""
from pathlib import Path
from statistics import mean
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import spacy
import srsly
from spacy.training import Example

from ..util import headless_pyplot, markdown_table
from .errors_page import errors_html, keep_candidates
from .evaluate import ALL_TYPES, predict_examples, score_examples

PathOrName = Union[str, Path]


def compare_pipelines(
    pipelines: Mapping[str, PathOrName],
    data: Sequence[Path],
    *,
    source_lang: str = "en",
    lang: Optional[str] = None,
    limit: int = 0,
    batch_size: int = 64,
    labels: Optional[Sequence[str]] = None,
    same_as: Optional[Mapping[str, PathOrName]] = None,
) -> Tuple[Dict[str, Any], Dict[str, List[Example]]]:
    """Load and score each pipeline (name -> folder or package) on the same data.

    Targets are the languages of the data other than source_lang; the report
    holds each pipeline's full scores and their macro F1 over the targets.
    Beside it come each pipeline's predictions on the first dev sentences of
    each language, which the error page (errors_page.py) picks from.
    same_as: name -> the folder of a pipeline known to predict alike (a
    self-training round whose student kept its teacher); where that folder
    was scored before it in `pipelines`, its scores are reused, not recomputed.
    """
    if not pipelines:
        raise ValueError("No pipelines to compare")
    results: Dict[str, Any] = {}
    predictions: Dict[str, List[Example]] = {}
    scored_names: Dict[Path, str] = {}
    for name, model in pipelines.items():
        twin = scored_names.get(Path(same_as[name]).resolve()) if same_as and name in same_as else None
        if twin is not None:
            results[name] = {"model": str(model), "same_as": twin, "scores": results[twin]["scores"]}
            predictions[name] = predictions[twin]
            continue
        scored, seconds = predict_examples(
            spacy.load(model), data, lang=lang, limit=limit, batch_size=batch_size, labels=labels, desc=name
        )
        results[name] = {"model": str(model), "scores": score_examples(scored, seconds)}
        predictions[name] = keep_candidates(scored)
        scored_names[Path(model).resolve()] = name
    langs = sorted({lang for result in results.values() for lang in result["scores"]["seqeval"]})
    targets = [lang for lang in langs if lang != source_lang] or langs
    for result in results.values():
        per_lang = result["scores"]["seqeval"]
        result["target_macro_f"] = mean(per_lang[lang][ALL_TYPES]["f"] if lang in per_lang else 0.0 for lang in targets)
    return {
        "data": [str(path) for path in data],
        "limit": limit,
        "labels": list(labels) if labels is not None else None,
        "source_lang": source_lang,
        "langs": langs,
        "targets": targets,
        "pipelines": results,
    }, predictions


def report_markdown(report: Mapping[str, Any]) -> str:
    """F1 per language with the target average, then P/R/F1 per language and type."""
    langs: List[str] = report["langs"]
    results = report["pipelines"]
    avg_name = f"avg ({', '.join(report['targets'])})"
    limit = f", first {report['limit']} docs per file" if report["limit"] else ""
    lines = [
        "## Entity F1 per language",
        "",
        f"Strict entity scores (seqeval, IOB2) on {', '.join(report['data'])}{limit}; "
        f"the average is the macro F1 over the target languages.",
        "",
    ]
    f1_rows = []
    for name, result in results.items():
        per_lang = result["scores"]["seqeval"]
        cells = [_percent(per_lang[lang][ALL_TYPES]["f"]) if lang in per_lang else "-" for lang in langs]
        speed = result["scores"]["speed"]["words_per_second"]
        f1_rows.append([name, *cells, _percent(result["target_macro_f"]), f"{speed:.0f}"])
    lines += markdown_table(["pipeline", *langs, avg_name, "words/s"], f1_rows)
    twins = [f"{name} is {result['same_as']}'s model again" for name, result in results.items() if "same_as" in result]
    if twins:
        lines += ["", f"{'; '.join(twins)} (a self-training student that kept its teacher): scored once."]
    lines += ["", "## Precision / recall / F1 per language and type"]
    header = ["type", "support"] + [f"{name} {key}" for name in results for key in ("P", "R", "F1")]
    for lang in langs:
        types = sorted(
            {label for result in results.values() for label in result["scores"]["seqeval"].get(lang, {})} - {ALL_TYPES}
        )
        type_rows = []
        for label in [*types, ALL_TYPES]:
            rows = [result["scores"]["seqeval"].get(lang, {}).get(label) for result in results.values()]
            support = next((row["support"] for row in rows if row is not None), 0)
            cells = [_percent(row[key]) if row is not None else "-" for row in rows for key in ("p", "r", "f")]
            type_rows.append([label, support, *cells])
        lines += ["", f"### {lang}", ""] + markdown_table(header, type_rows)
    return "\n".join(lines) + "\n"


def plot_f1(report: Mapping[str, Any], path: Path) -> None:
    """A PNG bar chart of F1 per language (and the target average), a bar per pipeline."""
    plt = headless_pyplot()

    groups = [*report["langs"], "avg targets"]
    results = report["pipelines"]
    width = 0.8 / len(results)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(groups) * max(1, len(results) / 2), 4))
    for i, (name, result) in enumerate(results.items()):
        per_lang = result["scores"]["seqeval"]
        values = [100 * per_lang[lang][ALL_TYPES]["f"] if lang in per_lang else 0.0 for lang in report["langs"]]
        values.append(100 * result["target_macro_f"])
        positions = [x + (i - (len(results) - 1) / 2) * width for x in range(len(groups))]
        bars = ax.bar(positions, values, width, label=name)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("entity F1")
    ax.set_ylim(0, 100)
    ax.set_title(f"Entity F1 per language (source: {report['source_lang']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(
    report: Mapping[str, Any], output: Path, predictions: Optional[Mapping[str, Sequence[Example]]] = None
) -> List[Path]:
    """Write OUTPUT.json, OUTPUT.md, OUTPUT.png and, given the predictions, the error page OUTPUT.html."""
    output.parent.mkdir(parents=True, exist_ok=True)
    paths = [output.with_suffix(suffix) for suffix in (".json", ".md", ".png")]
    srsly.write_json(paths[0], report)
    paths[1].write_text(report_markdown(report), encoding="utf8")
    plot_f1(report, paths[2])
    if predictions:
        paths.append(output.with_suffix(".html"))
        title = f"Entities on {', '.join(report['data'])}: gold and {', '.join(predictions)}"
        paths[-1].write_text(errors_html(predictions, title), encoding="utf8")
    return paths


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"
