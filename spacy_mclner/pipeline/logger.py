"""A console logger for `spacy train` that shows each part of the mclner loss in its own column."""
import sys
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

import spacy
import srsly
from spacy.language import Language
from wasabi import Printer

LOSS_PARTS = ("ce", "ce_view", "sc", "tc", "ce_pseudo", "mse")
msg = Printer(no_print=True)


@spacy.registry.loggers("spacy_mclner.ConsoleLogger.v1")
def console_logger(
    output_file: Optional[str] = None,
) -> Callable[[Language, IO, IO], Tuple[Callable[[Optional[Dict[str, Any]]], None], Callable[[], None]]]:
    """Like spacy.ConsoleLogger, plus the loss parts of mclner pipes (L_ce on sources, views and pseudo-labels, L_sc, L_tc, L_mse).

    output_file: also write one JSON line per evaluation here.
    """

    def setup(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr):
        loss_keys: List[str] = []
        for name, pipe in nlp.pipeline:
            if getattr(pipe, "is_trainable", False):
                loss_keys.append(name)
                if pipe.__class__.__name__ == "MCLNER":
                    loss_keys.extend(f"{name}_{part}" for part in LOSS_PARTS)
        weights = nlp.config["training"]["score_weights"]
        score_keys = [key for key, value in weights.items() if value is not None]
        loss_titles = [f"Loss {k}" if k in nlp.pipe_names else k.split("_", 1)[1] for k in loss_keys]
        header = ["E", "#"] + loss_titles + score_keys + ["Score"]
        widths = [3, 6] + [max(7, len(title)) for title in header[2:]]
        stdout.write(msg.row(header, widths=widths, spacing=2) + "\n")
        stdout.write(msg.row(["-" * w for w in widths], spacing=2) + "\n")
        stream = open(output_file, "w", encoding="utf8") if output_file else None

        def log_step(info: Optional[Dict[str, Any]]) -> None:
            if info is None:
                return
            losses = {key: float(info["losses"].get(key, 0.0)) for key in loss_keys}
            scores = {key: float(info["other_scores"].get(key, 0.0) or 0.0) * 100 for key in score_keys}
            row = [info["epoch"], info["step"]] + [f"{v:.2f}" for v in losses.values()]
            row += [f"{v:.2f}" for v in scores.values()] + [f"{float(info['score']):.2f}"]
            stdout.write(msg.row(row, widths=widths, spacing=2) + "\n")
            stdout.flush()
            if stream is not None:
                record = {
                    "epoch": info["epoch"],
                    "step": info["step"],
                    "words": info.get("words"),
                    "seconds": info.get("seconds"),
                    "losses": losses,
                    "scores": scores,
                    "score": float(info["score"]),
                    # F1 per language (spacy_mclner.scorer.v1), for learning curves over the targets.
                    "f_per_lang": {
                        lang: float(prf["f"]) * 100
                        for lang, prf in (info["other_scores"].get("ents_per_lang") or {}).items()
                    },
                }
                stream.write(srsly.json_dumps(record) + "\n")
                stream.flush()

        def finalize() -> None:
            if stream is not None:
                stream.close()

        return log_step, finalize

    return setup
