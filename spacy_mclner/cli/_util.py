"""What the commands share: the typer app, option parsing helpers and defaults."""
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import typer

app = typer.Typer(
    name="spacy_mclner",
    help="Zero-shot cross-lingual NER for spaCy (MCL-NER).",
    no_args_is_help=True,
    add_completion=False,
)

# Pseudo-labelling keeps a sentence only when every entity's score reaches this.
PSEUDO_LABEL_THRESHOLD = 0.9


def split_option(value: Optional[str]) -> Optional[List[str]]:
    """A comma-separated option as a list, None when not given."""
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def freedict_langs_option(value: str) -> Optional[List[str]]:
    """--freedict-langs / --langs of the FreeDict commands: "all" (None: every language Debian
    has), "none" (an empty list), or a comma-separated list."""
    if value == "all":
        return None
    return [] if value == "none" else split_option(value) or []


def use_gpu(gpu_id: int) -> None:
    if gpu_id >= 0:
        import spacy

        spacy.require_gpu(gpu_id)


def _key_value(option: str, key: str, param_hint: str) -> Tuple[str, Path]:
    name, sep, path = option.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise typer.BadParameter(f"expected {key}=PATH, got {option!r}", param_hint=param_hint)
    return name.strip(), Path(path.strip())


def named_paths(options: List[str], param_hint: str) -> Dict[str, Path]:
    """NAME=PATH arguments as an ordered mapping; a name given twice is an error."""
    named: Dict[str, Path] = {}
    for option in options:
        name, path = _key_value(option, "NAME", param_hint)
        if name in named:
            raise typer.BadParameter(f"name {name!r} given twice", param_hint=param_hint)
        named[name] = path
    return named


def lang_paths(options: List[str], param_hint: str) -> List[Tuple[str, Path]]:
    """LANG=PATH options as (lang, path) pairs; a language may come more than once."""
    return [_key_value(option, "LANG", param_hint) for option in options]
