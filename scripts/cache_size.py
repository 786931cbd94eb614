"""How much memory the frozen-layer cache (`frozen_cache_mb`) needs for a corpus.

The cache keeps, per training sentence (or view), its word pieces' hidden states
after the frozen layers: encoder width x 2 bytes (float16) per piece, specials
included. This counts the pieces with the encoder's own tokenizer.

Usage: python scripts/cache_size.py ENCODER_FOLDER FILE.spacy [FILE.spacy ...] [--limit N]
"""
import argparse
import json
from pathlib import Path

import spacy
from spacy.tokens import DocBin
from transformers import AutoTokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("encoder", type=Path)
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--limit", type=int, default=1000, help="docs per file to count (0: all)")
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(str(args.encoder), use_fast=False)
    width = json.loads((args.encoder / "config.json").read_text())["hidden_size"]
    vocab = spacy.blank("xx").vocab
    for path in args.files:
        docs = list(DocBin().from_disk(path).get_docs(vocab))
        docs = docs[: args.limit] if args.limit else docs
        pieces = sum(len(tokenizer([t.text for t in doc], is_split_into_words=True)["input_ids"]) for doc in docs)
        megabytes = pieces * width * 2 / 2**20
        print(f"{path}: {len(docs)} docs, {pieces} pieces, {megabytes:.1f} MB ({1000 * megabytes / len(docs):.1f} MB per 1,000 docs)")


if __name__ == "__main__":
    main()
