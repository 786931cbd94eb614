"""`nlp.pipe(n_process=2)` finishes, and gives what one process gives, after torch ran in the parent."""
import json
import subprocess
import sys
from pathlib import Path

SAVED = Path(__file__).parent / "fixtures" / "saved-pipeline"
SCRIPT = f"""
import json, spacy
nlp = spacy.load({str(SAVED)!r})
texts = ["Angela Merkel visited Paris .", "Barack Obama works for Google in New York ."] * 20
one = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]  # torch's threads start here
two = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts, n_process=2, batch_size=8)]
print(json.dumps({{"one": one, "two": two}}))
"""


def test_two_processes_finish_and_agree_with_one() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["two"] == out["one"] and any(out["one"])
