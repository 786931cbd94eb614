"""K rounds of self-training (docs/method.md section 5): the student of one round is the teacher of the next.

Every round has its own folder under the run's output:

    round-0/round.json          the source model's dev scores
    round-K/pseudo/LANG.spacy   the round's teacher's pseudo-labels (+ LANG.json: kept counts, quality)
    round-K/student.cfg         the student config, with the teacher's model section
    round-K/model/              `spacy train` output (model-best is the next teacher)
    round-K/curve.jsonl         the student's dev scores at each evaluation (to check its plateau)
    round-K/round.json          written last: marks the round finished (kept_teacher: the student's
                                best checkpoint is its teacher's weights, scored once)
    run.json                    what the rounds depend on (contents of teacher, data, config; settings)

A rerun with the same run.json skips finished rounds and the pseudo-label files
already written (each is written whole or not at all), and retrains an
unfinished round's student from the start, as `spacy train` cannot resume. A
rerun whose teacher, data or settings differ starts over: its rounds would not
be the ones the folder holds (the workflow reruns `self-train` exactly when
`train-mclner` gives it a new teacher). The run ends with the
pseudo-label quality and dev F1 per round and language as a table
(quality.md, quality.json) and a plot (quality.png, the paper's Fig. 6c).
"""
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import srsly
from spacy.cli.train import train
from thinc.api import Config
from wasabi import msg

from ..data.corpus import read_gold, read_unlabeled
from ..evaluation.evaluate import evaluate_pipeline
from ..pipeline.identity import same_predictor
from ..pipeline.mclner import load_mclner
from ..util import content_sha256, headless_pyplot, markdown_table, write_json
from .pseudo_label import pseudo_label_corpus

ROUND_FILE = "round.json"
RUN_FILE = "run.json"
CURVE_FILE = "curve.jsonl"


@dataclass
class SelfTrainingPlan:
    """What a self-training run needs; see `python -m spacy_mclner self-train --help`.

    teacher: the source-stage pipeline, the first round's teacher.
    config: the student config (configs/mclner_student.cfg); its model section is
        replaced by the teacher's, since the student starts from the teacher's weights.
    source, views: the labelled source corpus (and its code-switched views) that keeps training.
    unlabeled: per target language, a file of text to pseudo-label.
    threshold: the minimal score of every entity of a kept sentence.
    dev: labelled dev .spacy files (a folder, one file per language): checkpoint
        choice, pseudo-label quality and the scores of each round.
    labels: score only these predicted types (a CoNLL teacher on PAN-X: PER, LOC, ORG).
    eval_limit: the first N dev docs per language for pseudo-label quality and round scores (0: all).
    gpu_id: the GPU the students train on (-1: CPU).
    overrides: config overrides for the students' `spacy train` (steps, sizes...).
    """

    teacher: Path
    output: Path
    config: Path
    source: Path
    unlabeled: Dict[str, Path]
    dev: Path
    threshold: float
    views: Optional[Path] = None
    rounds: int = 2
    unlabeled_limit: int = 0
    text: bool = False
    labels: Optional[List[str]] = None
    eval_limit: int = 0
    batch_size: int = 64
    gpu_id: int = -1
    overrides: Dict[str, Any] = field(default_factory=dict)


def run_self_training(plan: SelfTrainingPlan) -> List[Dict[str, Any]]:
    """Run the rounds that are not finished yet; return every round's record, round 0 first."""
    if plan.rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {plan.rounds}")
    if not plan.unlabeled:
        raise ValueError("No unlabelled text given: pass --unlabeled LANG=PATH for each target language")
    _keep_or_clear_rounds(plan)
    records = [_finished(plan.output / "round-0") or _evaluate_source(plan)]
    teacher = plan.teacher
    for round_id in range(1, plan.rounds + 1):
        folder = plan.output / f"round-{round_id}"
        records.append(_finished(folder) or _run_round(plan, round_id, teacher, folder, records[-1]))
        teacher = round_model(plan.output, round_id)
    write_quality_report(plan.output, records)
    return records


def run_fingerprint(plan: SelfTrainingPlan) -> Dict[str, Any]:
    """What every round's outputs depend on, by content; not the round count, so a rerun may add rounds."""
    fingerprint = {
        "teacher": content_sha256(plan.teacher),
        "config": content_sha256(plan.config),
        "source": content_sha256(plan.source),
        "views": content_sha256(plan.views) if plan.views is not None else None,
        "dev": content_sha256(plan.dev),
        "unlabeled": {lang: content_sha256(path) for lang, path in plan.unlabeled.items()},
        "settings": {
            "threshold": plan.threshold,
            "unlabeled_limit": plan.unlabeled_limit,
            "text": plan.text,
            "labels": plan.labels,
            "eval_limit": plan.eval_limit,
            "overrides": plan.overrides,
        },
    }
    return srsly.json_loads(srsly.json_dumps(fingerprint))  # as run.json reads back: lists, not tuples


def _keep_or_clear_rounds(plan: SelfTrainingPlan) -> None:
    """Keep the output's rounds only if the run that wrote them had this run's inputs and settings."""
    path = plan.output / RUN_FILE
    fingerprint = run_fingerprint(plan)
    before = srsly.read_json(path) if path.is_file() else None
    if before == fingerprint:
        return
    stale = sorted(plan.output.glob("round-*"))
    if stale:
        if before is None:
            why = f"no {RUN_FILE} says what they were trained from"
        else:
            changed = [key for key in fingerprint if key != "settings" and before.get(key) != fingerprint[key]]
            settings = before.get("settings") or {}
            changed += [key for key, value in fingerprint["settings"].items() if settings.get(key) != value]
            why = f"their run had another {', '.join(changed)}"
        msg.warn(f"Starting over in {plan.output}: its {len(stale)} round folders are not this run's ({why})")
        for folder in stale:
            shutil.rmtree(folder)
    write_json(path, fingerprint)


def _finished(folder: Path) -> Optional[Dict[str, Any]]:
    path = folder / ROUND_FILE
    return srsly.read_json(path) if path.is_file() else None


def _evaluate_source(plan: SelfTrainingPlan) -> Dict[str, Any]:
    dev = _dev_scores(plan, plan.teacher, "Round 0: the teacher")
    record = {"round": 0, "model": str(plan.teacher), "dev": dev, "pseudo": {}}
    write_json(plan.output / "round-0" / ROUND_FILE, record)
    return record


def _run_round(
    plan: SelfTrainingPlan, round_id: int, teacher: Path, folder: Path, teacher_record: Dict[str, Any]
) -> Dict[str, Any]:
    pseudo_dir = folder / "pseudo"
    reports = _pseudo_label(plan, round_id, teacher, pseudo_dir)
    model_dir = folder / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)  # an interrupted round's training
    config_path = folder / "student.cfg"
    config = student_config(plan.config, teacher)
    config.to_disk(config_path)
    overrides = {
        **({"training.logger.output_file": str(folder / CURVE_FILE)} if "output_file" in config["training"]["logger"] else {}),
        "paths.teacher": str(teacher),
        "paths.train": str(plan.source),
        "paths.pseudo": str(pseudo_dir),
        "paths.dev": str(plan.dev),
        **({"paths.views": str(plan.views)} if plan.views is not None else {}),
        **plan.overrides,
    }
    train(config_path, model_dir, use_gpu=plan.gpu_id, overrides=overrides)
    student = round_model(plan.output, round_id)
    kept_teacher = same_predictor(teacher, student)
    if kept_teacher:
        msg.info(f"Round {round_id}: no checkpoint beat the teacher, so the student is its teacher; scored once")
    record = {
        "round": round_id,
        "model": str(student),
        "teacher": str(teacher),
        "kept_teacher": kept_teacher,
        "dev": teacher_record["dev"] if kept_teacher else _dev_scores(plan, student, f"Round {round_id}: the student"),
        "pseudo": reports,
    }
    write_json(folder / ROUND_FILE, record)
    return record


def _pseudo_label(plan: SelfTrainingPlan, round_id: int, teacher: Path, pseudo_dir: Path) -> Dict[str, Dict[str, Any]]:
    """Pseudo-label each language's text with the round's teacher, except where a former run did.

    A line per language says how far the round is, also where no progress bar shows (a log file).
    """
    reports: Dict[str, Dict[str, Any]] = {}
    loaded = None
    for number, (lang, path) in enumerate(plan.unlabeled.items(), start=1):
        output, report_path = pseudo_dir / f"{lang}.spacy", pseudo_dir / f"{lang}.json"
        where = f"Round {round_id}: pseudo-labels {lang} ({number}/{len(plan.unlabeled)})"
        if output.is_file() and report_path.is_file():
            reports[lang] = srsly.read_json(report_path)
            msg.info(f"{where}: kept from a former run, {report_path}")
            continue
        nlp, pipe = loaded = loaded or load_mclner(teacher)
        docs = read_unlabeled(path, nlp, lang, text=plan.text, limit=plan.unlabeled_limit)
        gold = read_gold(plan.dev, nlp, lang, limit=plan.eval_limit)
        report = pseudo_label_corpus(
            pipe, docs, output, lang=lang, threshold=plan.threshold, gold=gold, labels=plan.labels, batch_size=plan.batch_size
        )
        reports[lang] = report.to_dict()
        write_json(report_path, reports[lang])
        kept = f"kept {report.kept_sentences} of {report.sentences} sentences, {report.kept_entities} entities"
        if report.quality is not None:
            kept += f"; pseudo-label F1 {100 * report.quality['f']:.1f} on the kept dev sentences"
        msg.info(f"{where}: {kept}")
    return reports


def student_config(config_path: Path, teacher: Path) -> Config:
    """The student config with the teacher's `mclner` model section, so that the teacher's weights fit."""
    config = Config().from_disk(config_path, interpolate=False)
    teacher_config = Config().from_disk(Path(teacher) / "config.cfg", interpolate=False)
    names = [name for name, block in teacher_config["components"].items() if block.get("factory") == "mclner"]
    if len(names) != 1 or "mclner" not in config["components"]:
        raise ValueError(f"{config_path} and {teacher / 'config.cfg'} need one `mclner` component each")
    config["components"]["mclner"]["model"] = teacher_config["components"][names[0]]["model"]
    return config


def _dev_scores(plan: SelfTrainingPlan, model: Path, who: str) -> Dict[str, Any]:
    """`model`'s dev scores, with a line before and after: on many languages this takes minutes."""
    msg.info(f"{who}: scoring {model} on {plan.dev}")
    nlp, _ = load_mclner(model)
    scores = evaluate_pipeline(nlp, [plan.dev], limit=plan.eval_limit, batch_size=plan.batch_size, labels=plan.labels)
    msg.info(f"{who}: dev macro F1 {100 * scores['ents_macro_f']:.1f} over {len(scores['ents_per_lang'])} languages")
    return {
        "macro_f": scores["ents_macro_f"],
        "per_lang": {lang: {key: value[key] for key in ("p", "r", "f", "n_docs")} for lang, value in scores["ents_per_lang"].items()},
    }


def round_model(output: Path, round_id: int) -> Path:
    """The pipeline a round trained: its student, the next round's teacher."""
    return Path(output) / f"round-{round_id}" / "model" / "model-best"


def round_models(output: Path) -> Dict[str, Path]:
    """round-K -> pipeline of each finished self-training round of a run folder, in round order."""
    return {f"round-{r['round']}": round_model(output, r["round"]) for r in read_rounds(output) if r["round"] > 0}


def kept_teachers(output: Path) -> Dict[str, str]:
    """round-K -> its teacher's folder, for each finished round whose student is its teacher again."""
    return {f"round-{r['round']}": r["teacher"] for r in read_rounds(output) if r.get("kept_teacher")}


def read_rounds(output: Path) -> List[Dict[str, Any]]:
    """The records of a run's finished rounds, in round order."""
    records = [_finished(folder) for folder in output.glob("round-*")]
    found = sorted((record for record in records if record is not None), key=lambda record: record["round"])
    if not found:
        raise ValueError(f"No finished self-training rounds in {output} (no round-*/{ROUND_FILE})")
    return found


def quality_markdown(records: Sequence[Dict[str, Any]]) -> str:
    """Dev F1 after each round and pseudo-label quality per round and language, as markdown tables.

    The first table's "macro" averages all dev languages (the checkpoint score),
    "targets" the pseudo-labelled ones.
    """
    langs = sorted({lang for record in records for lang in record["dev"]["per_lang"]})
    targets = sorted({lang for record in records for lang in record["pseudo"]} & set(langs))
    dev_rows = []
    for record in records:
        name = "source" if record["round"] == 0 else f"round {record['round']}"
        if record.get("kept_teacher"):
            name += " (kept its teacher)"
        per_lang = record["dev"]["per_lang"]
        cells = [f"{100 * per_lang[lang]['f']:.1f}" if lang in per_lang else "-" for lang in langs]
        target_f = [per_lang[lang]["f"] for lang in targets if lang in per_lang]
        target_avg = f"{100 * sum(target_f) / len(target_f):.1f}" if target_f else "-"
        dev_rows.append([name, *cells, f"{100 * record['dev']['macro_f']:.1f}", target_avg])
    quality_rows = [
        [
            record["round"], lang, report["sentences"], report["kept_sentences"], report["kept_entities"],
            f"{report['quality']['kept_sentences']} / {report['quality']['sentences']}",
            *(f"{100 * report['quality'][key]:.1f}" for key in ("p", "r", "f")),
        ]
        for record in records
        for lang, report in sorted(record["pseudo"].items())
    ]
    lines = markdown_table(["model", *langs, "macro", "targets"], dev_rows) + [""]
    lines += markdown_table(
        ["round", "lang", "sentences", "kept", "entities", "dev kept / all", "pseudo P", "pseudo R", "pseudo F1"],
        quality_rows,
        aligns="rlrrrrrrr",
    )
    return "\n".join(lines) + "\n"


def plot_quality(records: Sequence[Dict[str, Any]], path: Path) -> None:
    """Pseudo-label F1 (left, the paper's Fig. 6c) and dev F1 (right) per language over the rounds, as a PNG."""
    pyplot = headless_pyplot()

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4))
    for lang in sorted({lang for record in records for lang in record["pseudo"]}):
        points = [(r["round"], 100 * r["pseudo"][lang]["quality"]["f"]) for r in records if lang in r["pseudo"]]
        left.plot(*zip(*points), marker="o", label=lang)
    for lang in sorted({lang for record in records for lang in record["dev"]["per_lang"]}):
        points = [(r["round"], 100 * r["dev"]["per_lang"][lang]["f"]) for r in records if lang in r["dev"]["per_lang"]]
        right.plot(*zip(*points), marker="o", label=lang)
    rounds = [record["round"] for record in records]
    for axes, title in ((left, "pseudo-label F1 (kept dev sentences)"), (right, "dev F1 (round 0: source model)")):
        axes.set_title(title)
        axes.set_xlabel("self-training round")
        axes.set_ylabel("entity F1")
        axes.set_xticks(rounds)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


def write_quality_report(output: Path, records: Sequence[Dict[str, Any]]) -> None:
    """quality.json, quality.md and quality.png in the run's folder."""
    output.mkdir(parents=True, exist_ok=True)
    srsly.write_json(output / "quality.json", list(records))
    (output / "quality.md").write_text(quality_markdown(records), encoding="utf8")
    plot_quality(records, output / "quality.png")
