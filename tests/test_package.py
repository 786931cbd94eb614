"""`spacy package`: the wheel of a trained pipeline loads by name in a fresh virtual environment."""
import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from spacy.language import Language

from .helpers import entities

NAME, VERSION = "package_test", "0.0.1"
TEXTS = ["Angela Merkel besuchte Paris .", "Siemens baut in München .", "Barack Obama works for Google in New York ."]


def build_wheel(nlp: Language, tmp_path: Path) -> Path:
    nlp.to_disk(tmp_path / "pipeline")
    (tmp_path / "packages").mkdir()
    command = [sys.executable, "-m", "spacy", "package", str(tmp_path / "pipeline"), str(tmp_path / "packages")]
    command += ["--name", NAME, "--version", VERSION, "--build", "wheel", "--force"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp_path / "packages" / f"xx_{NAME}-{VERSION}" / "dist" / f"xx_{NAME}-{VERSION}-py3-none-any.whl"


def fresh_venv(path: Path) -> Path:
    """A new virtual environment that sees this one's packages after its own.

    Installing torch, transformers and spaCy from an index would take longer than the
    test suite; the wheel under test goes into the new environment, without deps.
    """
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    # addsitedir, unlike a bare path, also runs the .pth files there (the editable spacy-mclner).
    Path(own_site, "dev_env.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return python


def test_packaged_pipeline_loads_by_name_in_a_fresh_venv(trained: Language, tmp_path: Path):
    expected = [entities(doc) for doc in trained.pipe(TEXTS)]
    assert all(expected), expected  # the overfitted pipe finds entities, so the comparison can fail
    wheel = build_wheel(trained, tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"xx_{NAME}-{VERSION}.dist-info/METADATA").decode("utf8")
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(requirement.startswith("spacy-mclner") for requirement in requires), requires

    python = fresh_venv(tmp_path / "venv")
    install = [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    script = (
        "import json, sys, spacy\n"
        f"nlp = spacy.load('xx_{NAME}')\n"
        f"import xx_{NAME} as package\n"
        "print(json.dumps({'file': package.__file__, 'ents': [[(e.text, e.label_) for e in doc.ents] "
        f"for doc in nlp.pipe({TEXTS!r})]}}))\n"
    )
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(loaded["file"]).is_relative_to(tmp_path / "venv")
    assert [[tuple(ent) for ent in doc] for doc in loaded["ents"]] == expected
