"""The models the `mclner` component wraps: thinc adapters and pure PyTorch.

Importing it makes forked processes safe for torch: after `fork`, a child whose parent had
already run torch's CPU thread pool hangs in its first parallel op (spaCy's
`nlp.pipe(n_process=N)` forks on Linux; spaCy's `ner` on spacy-transformers hangs the same
way). Each forked child therefore runs torch on one thread, which is also what N processes
on N cores want.
"""
import os
import sys


def _one_torch_thread_in_forked_child() -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


os.register_at_fork(after_in_child=_one_torch_thread_in_forked_child)
