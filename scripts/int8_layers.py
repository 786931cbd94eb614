"""Which of the encoder's linear layers int8 dynamic quantization can take: dev F1 of one pipeline
with its int8 copy made over a subset of the layers (docs/production.md).

Usage: python scripts/int8_layers.py PIPELINE DEV.spacy VARIANT [--limit 600]
VARIANT: bf16 (no int8, the pipeline's bfloat16), all (every linear layer, per-tensor weights: what
precision = "int8" does), perchannel (every layer, per-channel weights), no_ffn_out (all but the
feed-forward output), attn_only (query, key, value and attention output), ffn_only (the two
feed-forward layers). Prints the variant and its F1 on the dev file's language.
"""
import argparse
import copy
import warnings
from pathlib import Path

import spacy
import torch
from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

from spacy_mclner.evaluation.evaluate import evaluate_pipeline
from spacy_mclner.ml import encoder_runtime

ATTENTION = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")
FEED_FORWARD = ("intermediate.dense", "output.dense")
SUBSETS = {"no_ffn_out": ATTENTION + FEED_FORWARD[:1], "attn_only": ATTENTION, "ffn_only": FEED_FORWARD}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("dev", type=Path)
    parser.add_argument("variant", choices=["bf16", "all", "perchannel", *SUBSETS])
    parser.add_argument("--limit", type=int, default=600)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)

    def quantized_layers(patch: "encoder_runtime._Patch") -> torch.nn.ModuleList:
        if patch.quantized is None:
            layers = copy.deepcopy(patch.hf_model.encoder.layer)
            if args.variant == "perchannel":
                spec = {torch.nn.Linear: per_channel_dynamic_qconfig}
            elif args.variant in SUBSETS:
                spec = {f"{i}.{name}": default_dynamic_qconfig for i in range(len(layers)) for name in SUBSETS[args.variant]}
            else:
                spec = {torch.nn.Linear}
            patch.quantized = quantize_dynamic(layers, spec, dtype=torch.qint8)
        return patch.quantized

    encoder_runtime._Patch.quantized_layers = quantized_layers
    precision = "bfloat16" if args.variant == "bf16" else "int8"
    nlp = spacy.load(args.pipeline, config={"components": {"mclner": {"model": {"precision": precision}}}})
    scores = evaluate_pipeline(nlp, [args.dev], limit=args.limit)
    for lang, lang_scores in scores["ents_per_lang"].items():
        print(args.variant, lang, f"{100 * lang_scores['f']:.2f}")


if __name__ == "__main__":
    main()
