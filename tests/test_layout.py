"""The package's layers import only downwards (docs/architecture.md), so a newcomer can read it bottom up."""
import ast
from pathlib import Path
from typing import Dict, Set

import spacy_mclner

PACKAGE = Path(spacy_mclner.__file__).parent
BASE = {"grid", "util"}
ALLOWED: Dict[str, Set[str]] = {
    "grid": set(),
    "util": set(),
    "data": BASE,
    "ml": BASE,
    "pipeline": BASE | {"data", "ml"},
    "evaluation": BASE | {"data", "ml", "pipeline"},
    "selftrain": BASE | {"data", "ml", "pipeline", "evaluation"},
    "distributed": BASE | {"data", "ml", "pipeline", "evaluation", "selftrain"},
    "cli": BASE | {"data", "ml", "pipeline", "evaluation", "selftrain", "distributed"},
}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def test_layers_import_only_downwards() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(path)
        if layer in ("__init__", "__main__"):
            continue
        depth = len(path.relative_to(PACKAGE).parts) - 1  # 0: a top-level module, 1: inside a folder
        for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
            if isinstance(node, ast.ImportFrom) and node.level > depth:
                target = (node.module or "").split(".")[0]
                if target != layer and target not in ALLOWED[layer]:
                    wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {node.module}")
    assert set(ALLOWED) == {_layer(p) for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()} - {"__init__", "__main__", "__pycache__"}
    assert not wrong, wrong
