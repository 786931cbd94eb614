"""The `mclner` trainable pipe: MCL-NER token-pair relation NER as a spaCy component."""
import warnings
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import spacy
import srsly
import torch
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import minibatch
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate, torch2xp, xp2torch

from .grid import (
    IGNORE,
    NONE,
    ScoredSpans,
    band_mask,
    concat_spans,
    decode_grid,
    n_relation_classes,
    resolve_overlaps,
    spans_to_grid,
)
from .losses import grid_cross_entropy, info_nce, relation_mse
from .model import GridBatch, GridGradient, GridWindow, build_head
from .multiview import PAIR_KEY, aligned_cells, expand_views
from .scoring import score_entities
from .teacher import check_single_sentence, get_teacher_distributions, has_teacher_distributions, owned_band_cells
from .tokenizer import unsegmented_cjk_tokens

default_model_config = """
[model]
@architectures = "spacy_mclner.MCLNERModel.v1"
fusion = "lstm"
hidden_width = 256
biaffine_width = 256
pair_width = 128
conv_width = 64
dilations = [1, 2, 3]
distance_embeddings = true
region_embeddings = true
projection_width = 128
dropout = 0.1
max_segment_words = 128
encoder_batch_words = 256

[model.tok2vec]
@architectures = "spacy-transformers.Tok2VecTransformer.v3"
name = "intfloat/multilingual-e5-small"
tokenizer_config = {"use_fast": false}
transformer_config = {}
mixed_precision = false
grad_scaler_config = {}
grad_factor = 1.0

[model.tok2vec.get_spans]
@span_getters = "spacy_mclner.bounded_strided_spans.v1"
window = 128
stride = 96
max_pieces = 510

[model.tok2vec.pooling]
@layers = "reduce_mean.v1"
"""
DEFAULT_MCLNER_MODEL = Config().from_str(default_model_config)["model"]
UNSEGMENTED_CJK_WARNING = (
    "Some tokens hold more than 8 Chinese or Japanese characters, as spaCy's `xx` tokenizer "
    "leaves them: `mclner` labels whole tokens, so it finds no entity inside them. Tokenize CJK "
    "text one character a token, e.g. with the tokenizer `spacy_mclner.CJKCharTokenizer.v1`."
)
# `pipe` sorts docs by length within this many batches.
SORT_BUFFER_BATCHES = 8


@Language.factory(
    "mclner",
    assigns=["doc.ents", "doc.spans"],
    default_config={
        "model": DEFAULT_MCLNER_MODEL,
        "spans_key": "mclner",
        "max_entity_width": 32,
        "none_weight": 1.0,
        "encoder_lr_scale": 0.01,
        "require_nnw": True,
        "threshold": 0.0,
        "sc_weight": 0.5,
        "tc_weight": 0.5,
        "temperature": 0.1,
        "tc_other_cells": 16,
        "mse_weight": 0.0,
        "scorer": {"@scorers": "spacy_mclner.scorer.v1"},
    },
    default_score_weights={
        "ents_macro_f": 1.0,
        "ents_f": 0.0,
        "ents_p": 0.0,
        "ents_r": 0.0,
        "ents_per_type": None,
        "ents_per_lang": None,
    },
)
def make_mclner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], GridBatch],
    spans_key: str,
    max_entity_width: int,
    none_weight: float,
    encoder_lr_scale: float,
    require_nnw: bool,
    threshold: float,
    sc_weight: float,
    tc_weight: float,
    temperature: float,
    tc_other_cells: int,
    mse_weight: float,
    scorer: Optional[Callable],
) -> "MCLNER":
    """Create an `mclner` component: flat entities in `Doc.ents`, scored candidates in `Doc.spans`.

    max_entity_width: longest entity (in tokens) that is decoded and trained on.
    none_weight: weight of `none` cells in the grid cross-entropy (1.0: unweighted).
    encoder_lr_scale: the encoder's learning rate as a share of the optimizer's
        (paper: 1e-5 for the encoder, 1e-3 for the rest, i.e. 0.01).
    require_nnw: keep a decoded span only when its NNW chain is predicted too.
    threshold: minimal THW probability of a decoded span.
    sc_weight, tc_weight: weights of the semantic (L_sc) and relation (L_tc)
        contrastive losses on code-switched views; 0 switches one off (the
        paper's ablations w/o sc, w/o tc, w/o both).
    temperature: InfoNCE temperature of both contrastive losses.
    tc_other_cells: cells between kept words sampled per sentence for L_tc,
        besides all aligned entity cells.
    mse_weight: weight of L_mse between the student's and the teacher's cell
        distributions on pseudo-labelled docs (self-training); 0 in the source stage.
    """
    return MCLNER(
        nlp.vocab,
        model,
        name,
        spans_key=spans_key,
        max_entity_width=max_entity_width,
        none_weight=none_weight,
        encoder_lr_scale=encoder_lr_scale,
        require_nnw=require_nnw,
        threshold=threshold,
        sc_weight=sc_weight,
        tc_weight=tc_weight,
        temperature=temperature,
        tc_other_cells=tc_other_cells,
        mse_weight=mse_weight,
        scorer=scorer,
    )


class MCLNER(TrainablePipe):
    """Zero-shot cross-lingual NER by word-pair relation classification (MCL-NER)."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], GridBatch],
        name: str = "mclner",
        *,
        spans_key: str = "mclner",
        max_entity_width: int = 32,
        none_weight: float = 1.0,
        encoder_lr_scale: float = 0.01,
        require_nnw: bool = True,
        threshold: float = 0.0,
        sc_weight: float = 0.5,
        tc_weight: float = 0.5,
        temperature: float = 0.1,
        tc_other_cells: int = 16,
        mse_weight: float = 0.0,
        scorer: Optional[Callable] = score_entities,
    ) -> None:
        if max_entity_width < 1:
            raise ValueError(f"max_entity_width must be at least 1, got {max_entity_width}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "encoder_width": None,
            "spans_key": spans_key,
            "max_entity_width": max_entity_width,
            "none_weight": none_weight,
            "encoder_lr_scale": encoder_lr_scale,
            "require_nnw": require_nnw,
            "threshold": threshold,
            "sc_weight": sc_weight,
            "tc_weight": tc_weight,
            "temperature": temperature,
            "tc_other_cells": tc_other_cells,
            "mse_weight": mse_weight,
        }
        # The model bands its grids by the entity width the component decodes and trains.
        self.model.attrs["max_entity_width"] = max_entity_width
        self._loss_parts: Dict[str, float] = {}
        # Samples L_tc's cells; seeded from numpy's global state, which spaCy's training seed fixes.
        self._rng = numpy.random.default_rng(numpy.random.randint(2**31))

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def add_label(self, label: str) -> int:
        """Add an entity type; only possible before the relation head exists."""
        if not isinstance(label, str) or not label:
            raise ValueError(f"Entity labels must be non-empty strings, got {label!r}")
        if label in self.labels:
            return 0
        if self.model.has_ref("head"):
            raise ValueError(
                f"Cannot add label {label!r} to '{self.name}': the model is already "
                f"initialised with labels {list(self.labels)}"
            )
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate a stream of docs, batching docs of similar length; yields them in order.

        The transformer pads to the longest doc of a batch and each grid to its
        longest sentence (quadratically), so docs are sorted by length within a
        buffer of several batches before they are batched.
        """
        error_handler = self.get_error_handler()
        for buffer in minibatch(stream, size=batch_size * SORT_BUFFER_BATCHES):
            by_length = sorted(range(len(buffer)), key=lambda i: len(buffer[i]))
            for indices in minibatch(by_length, size=batch_size):
                docs = [buffer[i] for i in indices]
                try:
                    self.set_annotations(docs, self.predict(docs))
                except Exception as error:
                    error_handler(self.name, self, docs, error)
            yield from buffer

    def predict(self, docs: Iterable[Doc]) -> GridBatch:
        return self.model.predict(list(docs))

    def set_annotations(self, docs: Iterable[Doc], grid: GridBatch) -> None:
        """Decode each window's grid into `Doc.ents` and all candidates into `Doc.spans`."""
        docs = list(docs)
        candidates = decode_windows(
            grid.windows,
            self.probabilities(grid),
            len(docs),
            self.cfg["max_entity_width"],
            require_nnw=self.cfg["require_nnw"],
            threshold=self.cfg["threshold"],
        )
        for doc, spans in zip(docs, candidates):
            self._annotate(doc, spans)
        if any(unsegmented_cjk_tokens(doc) for doc in docs):
            warnings.warn(UNSEGMENTED_CJK_WARNING, UserWarning)

    def probabilities(self, grid: GridBatch) -> numpy.ndarray:
        """Class probabilities of every cell of the batch's window grids, as numpy."""
        return self.model.ops.to_numpy(self.model.ops.softmax(grid.logits, axis=-1))

    def _annotate(self, doc: Doc, spans: ScoredSpans) -> None:
        """Set the flat entities and the scored candidates (doc token offsets) of one doc.

        Candidates that begin or end on a whitespace-only token are dropped, as
        spaCy's own `ner` never puts entity boundaries on whitespace.
        """
        labels = self.labels
        is_space = numpy.asarray([token.is_space for token in doc], dtype=bool)
        if len(spans):
            spans = spans.select(~is_space[spans.starts] & ~is_space[spans.ends - 1])
        ents, proposals = (
            [
                Span(doc, s, e, label=labels[l])
                for s, e, l in zip(group.starts.tolist(), group.ends.tolist(), group.labels.tolist())
            ]
            for group in (resolve_overlaps(spans), spans)
        )
        doc.set_ents(ents, default="outside")
        key = self.cfg["spans_key"]
        doc.spans[key] = SpanGroup(doc, name=key, spans=proposals, attrs={"scores": spans.scores.astype("float32")})

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "MCLNER.update")
        # Code-switched views (attached by spacy_mclner.MultiViewCorpus.v1) join the batch.
        examples = expand_views(examples)
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return losses
        set_dropout_rate(self.model, drop)
        grid, backprop = self.model.begin_update(docs)
        loss, d_grid = self.get_loss(examples, grid)
        backprop(d_grid)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        for part, value in self._loss_parts.items():
            losses[f"{self.name}_{part}"] = losses.get(f"{self.name}_{part}", 0.0) + value
        return losses

    def get_loss(self, examples: Iterable[Example], grid: GridBatch) -> Tuple[float, GridGradient]:
        """The training objective; returns (loss, gradients of the grid outputs).

        Source stage (eq. 8): L_ce over the source sentences' grid cells, plus,
        for batches with code-switched views, L_ce over the views' cells,
        `sc_weight * L_sc` over the sentence vectors and `tc_weight * L_tc` over
        the projected pair representations of aligned cells. Self-training
        (eq. 9, 10) adds, for pseudo-labelled docs (those carrying teacher
        distributions), L_ce over their cells and `mse_weight * L_mse` towards
        the teacher's distributions of their band cells; L_tc keeps coming from
        the source/view pairs, the only sentences with aligned cells. The parts
        are kept in `_loss_parts` so that update() can log them one by one.
        """
        examples = list(examples)
        targets = torch.as_tensor(self._grid_targets(examples, grid))
        is_view = torch.as_tensor([PAIR_KEY in examples[w.doc].reference.user_data for w in grid.windows], dtype=torch.bool)
        is_pseudo = torch.as_tensor(
            [has_teacher_distributions(examples[w.doc].reference) for w in grid.windows], dtype=torch.bool
        )
        logits = xp2torch(grid.logits, requires_grad=True)
        none_weight = self.cfg["none_weight"]
        is_source = ~is_view & ~is_pseudo
        parts = {"ce": grid_cross_entropy(logits[is_source], targets[is_source], none_weight=none_weight)}
        sentences = projections = None
        if bool(is_view.any()):
            parts["ce_view"] = grid_cross_entropy(logits[is_view], targets[is_view], none_weight=none_weight)
            sentence_pairs = _paired_rows(examples, [doc_i for doc_i, _, _ in grid.sentences])
            window_pairs = _paired_rows(examples, [window.doc for window in grid.windows])
            if self.cfg["sc_weight"] and sentence_pairs:
                sentences = xp2torch(grid.sentence_vectors, requires_grad=True)
                rows = torch.as_tensor(sentence_pairs, dtype=torch.long)
                parts["sc"] = info_nce(sentences[rows[:, 0]], sentences[rows[:, 1]], self.cfg["temperature"])
            if self.cfg["tc_weight"] and window_pairs:
                projections = xp2torch(grid.projections, requires_grad=True)
                parts["tc"] = self._relation_contrast(examples, grid, window_pairs, projections)
        if bool(is_pseudo.any()):
            parts["ce_pseudo"] = grid_cross_entropy(logits[is_pseudo], targets[is_pseudo], none_weight=none_weight)
            if self.cfg["mse_weight"]:
                parts["mse"] = self._teacher_mse(examples, grid, is_pseudo.nonzero().flatten().tolist(), logits)
        weights = {
            "ce": 1.0,
            "ce_view": 1.0,
            "sc": self.cfg["sc_weight"],
            "tc": self.cfg["tc_weight"],
            "ce_pseudo": 1.0,
            "mse": self.cfg["mse_weight"],
        }
        loss = sum(weights[name] * value for name, value in parts.items())
        loss.backward()
        self._loss_parts = {name: float(value.item()) for name, value in parts.items()}
        gradients = tuple(None if t is None else torch2xp(t.grad) for t in (logits, sentences, projections))
        return float(loss.item()), gradients

    def _teacher_mse(self, examples: List[Example], grid: GridBatch, rows: List[int], logits: torch.Tensor) -> torch.Tensor:
        """L_mse over the band cells of pseudo-labelled windows `rows`, each cell counted in the window owning it."""
        width = self.cfg["max_entity_width"]
        teachers: Dict[int, numpy.ndarray] = {}
        index: List[numpy.ndarray] = []
        targets: List[numpy.ndarray] = []
        for row in rows:
            window = grid.windows[row]
            reference = examples[window.doc].reference
            if window.doc not in teachers:
                check_single_sentence(reference, grid.sentences[window.sentence])
                teachers[window.doc] = get_teacher_distributions(reference, self.labels, width)
            cell_rows, cell_cols, positions = owned_band_cells(window, grid.sentences[window.sentence], width)
            index.append(numpy.stack([numpy.full_like(cell_rows, row), cell_rows, cell_cols], axis=1))
            targets.append(teachers[window.doc][positions])
        cells = torch.as_tensor(numpy.concatenate(index), dtype=torch.long)
        teacher = torch.as_tensor(numpy.concatenate(targets))
        return relation_mse(logits[cells[:, 0], cells[:, 1], cells[:, 2]], teacher)

    def _relation_contrast(
        self, examples: List[Example], grid: GridBatch, pairs: List[Tuple[int, int]], projections: torch.Tensor
    ) -> torch.Tensor:
        """L_tc: InfoNCE between projected pair representations of aligned source/view cells.

        `pairs` are (source, view) window rows of docs that are one window each, so
        grid coordinates are doc token offsets.
        """
        source_index: List[Tuple[int, int, int]] = []
        view_index: List[Tuple[int, int, int]] = []
        for source_row, view_row in pairs:
            source_doc = examples[grid.windows[source_row].doc].reference
            view_doc = examples[grid.windows[view_row].doc].reference
            source_cells, view_cells = aligned_cells(
                source_doc, view_doc, self.cfg["max_entity_width"], self.cfg["tc_other_cells"], self._rng
            )
            source_index.extend((source_row, r, c) for r, c in source_cells.tolist())
            view_index.extend((view_row, r, c) for r, c in view_cells.tolist())
        src = torch.as_tensor(source_index, dtype=torch.long).reshape(-1, 3)
        view = torch.as_tensor(view_index, dtype=torch.long).reshape(-1, 3)
        return info_nce(
            projections[src[:, 0], src[:, 1], src[:, 2]],
            projections[view[:, 0], view[:, 1], view[:, 2]],
            self.cfg["temperature"],
        )

    def _grid_targets(self, examples: List[Example], grid: GridBatch) -> numpy.ndarray:
        """Class ids per cell of the padded grids, IGNORE for padding and out-of-band cells."""
        label_ids = {label: i for i, label in enumerate(self.labels)}
        gold: List[List[Span]] = [
            list(eg.get_aligned_spans_y2x(eg.reference.ents, allow_overlap=False)) for eg in examples
        ]
        for eg, spans in zip(examples, gold):
            unknown = {span.label_ for span in spans if span.label_ not in label_ids}
            if unknown:
                raise ValueError(
                    f"Unknown entity label(s) {sorted(unknown)} in a training example of "
                    f"'{self.name}' (known: {list(self.labels)}); doc starts: {eg.reference.text[:60]!r}"
                )
        n_windows, max_len = grid.logits.shape[0], grid.logits.shape[1]
        targets = numpy.full((n_windows, max_len, max_len), IGNORE, dtype="int64")
        width = self.cfg["max_entity_width"]
        for row, window in enumerate(grid.windows):
            start, end = window.start, window.end
            touching = [s for s in gold[window.doc] if s.start < end and s.end > start]
            inside = [s for s in touching if s.start >= start and s.end <= end]
            cells = spans_to_grid(
                [s.start - start for s in inside],
                [s.end - start for s in inside],
                [label_ids[s.label_] for s in inside],
                end - start,
            )
            # An entity cut by the window's edge has no right answer here; the window
            # that holds all of it trains on it.
            cut = [s for s in touching if s.start < start or s.end > end]
            if cut:
                cut_cells = spans_to_grid(
                    [max(s.start, start) - start for s in cut],
                    [min(s.end, end) - start for s in cut],
                    [0] * len(cut),
                    end - start,
                )
                cells[cut_cells != NONE] = IGNORE
            cells[~band_mask(end - start, width)] = IGNORE
            targets[row, : end - start, : end - start] = cells
        return targets

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the encoder at `encoder_lr_scale` times the optimizer's rate, the head at full rate."""
        self.model.get_ref("tok2vec").finish_update(_ScaledOptimizer(sgd, self.cfg["encoder_lr_scale"]))
        self.model.get_ref("head").finish_update(sgd)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
        init_from: Optional[Path] = None,
    ) -> None:
        """Set the labels (given, or read from the examples) and initialise encoder and head.

        init_from: a trained pipeline whose `mclner` weights and labels this pipe
            starts from: in self-training the student starts as its teacher.
            spaCy's `source` would copy the teacher's settings with its weights,
            but the student trains with its own (mse_weight, tc_weight...).
        """
        validate_get_examples(get_examples, "MCLNER.initialize")
        if init_from is not None:
            self._initialize_from(Path(init_from), labels)
            return
        if labels is not None:
            for label in labels:
                self.add_label(label)
        else:
            for eg in get_examples():
                for ent in eg.reference.ents:
                    self.add_label(ent.label_)
        if not self.labels:
            raise ValueError(
                f"'{self.name}' has no labels: the training examples hold no entities and no labels were given"
            )
        self.cfg["labels"] = sorted(self.cfg["labels"])
        docs = [eg.predicted for eg in islice(get_examples(), 16)]
        self.model.set_dim("nO", n_relation_classes(len(self.labels)))
        self.model.initialize(X=docs)
        self.cfg["encoder_width"] = self.model.get_dim("nI")

    def _initialize_from(self, path: Path, labels: Optional[Sequence[str]]) -> None:
        """Copy the labels and weights of the `mclner` pipe of the pipeline at `path`."""
        _, teacher = load_mclner(path)
        if labels is not None and sorted(labels) != list(teacher.labels):
            raise ValueError(f"init_from {path} has labels {list(teacher.labels)}, but labels {list(labels)} were given")
        self.cfg["labels"] = list(teacher.labels)
        self.cfg["encoder_width"] = teacher.cfg["encoder_width"]
        self._initialize_before_deserializing()
        try:
            self.model.from_bytes(teacher.model.to_bytes())
        except (ValueError, RuntimeError) as error:  # thinc's, or torch's on differing shapes
            raise ValueError(
                f"Cannot start '{self.name}' from {path}: its model is not built like this config's "
                f"[components.{self.name}.model] (copy the model section of {path / 'config.cfg'}): {error}"
            ) from error
        # Deserialising restores the teacher's model attributes; the band is this component's setting.
        self.model.attrs["max_entity_width"] = self.cfg["max_entity_width"]

    def _initialize_before_deserializing(self) -> None:
        """Build the relation head from cfg so that saved weights have somewhere to go."""
        if not self.labels or self.cfg.get("encoder_width") is None:
            raise ValueError(
                f"Cannot load '{self.name}': its cfg holds no labels or encoder width, "
                "so it was never initialised (or the cfg file is damaged)"
            )
        build_head(self.model, n_relation_classes(len(self.labels)), self.cfg["encoder_width"])

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "MCLNER":
        cfg = srsly.json_loads(srsly.msgpack_loads(bytes_data)["cfg"])
        self.cfg.update(cfg)
        self._initialize_before_deserializing()
        return super().from_bytes(bytes_data, exclude=exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "MCLNER":
        cfg_path = Path(path) / "cfg"
        if not cfg_path.exists():
            raise ValueError(f"Cannot load '{self.name}' from {path}: the folder has no 'cfg' file")
        try:
            self.cfg.update(srsly.read_json(cfg_path))
        except ValueError as error:
            raise ValueError(f"Cannot load '{self.name}': {cfg_path} is not valid JSON ({error})") from error
        self._initialize_before_deserializing()
        try:
            return super().from_disk(path, exclude=exclude)
        except ValueError as error:  # what msgpack raises on a truncated or foreign file
            model_path = Path(path) / "model"
            raise ValueError(
                f"Cannot load '{self.name}': {model_path} is damaged or truncated, or not a saved "
                f"'{self.name}' model ({error})"
            ) from error


def load_mclner(path: Union[str, Path]) -> Tuple[Language, MCLNER]:
    """A trained pipeline and its `mclner` pipe, with errors that name the folder."""
    path = Path(path)
    if not (path / "config.cfg").is_file():
        raise ValueError(f"{path} is not a trained spaCy pipeline folder: it has no config.cfg")
    nlp = spacy.load(path)
    pipes = [pipe for _, pipe in nlp.pipeline if isinstance(pipe, MCLNER)]
    if len(pipes) != 1:
        found = "no" if not pipes else f"{len(pipes)}"
        raise ValueError(f"The pipeline in {path} has {found} `mclner` pipes, one is needed (its pipes: {nlp.pipe_names})")
    return nlp, pipes[0]


def decode_windows(
    windows: Sequence[GridWindow],
    probs: numpy.ndarray,
    n_docs: int,
    max_width: int,
    *,
    require_nnw: bool,
    threshold: float,
) -> List[ScoredSpans]:
    """Entity candidates of each doc, in doc token offsets, from its windows' class probabilities.

    A window keeps the candidates that start in its own range; the own ranges of
    a sentence's windows partition it, so each candidate is decoded once.
    """
    candidates: List[List[Tuple[int, ScoredSpans]]] = [[] for _ in range(n_docs)]
    for row, window in enumerate(windows):
        n_words = window.end - window.start
        spans = decode_grid(probs[row, :n_words, :n_words], max_width, require_nnw=require_nnw, threshold=threshold)
        starts = spans.starts + window.start
        owned = (starts >= window.own_start) & (starts < window.own_end)
        candidates[window.doc].append((window.start, spans.select(owned)))
    return [concat_spans(parts) for parts in candidates]


def _paired_rows(examples: List[Example], owners: Sequence[int]) -> List[Tuple[int, int]]:
    """(source row, view row) pairs among rows (sentences or windows) owned by docs `owners[row]`.

    Only docs that are one row each are paired: training sentences are.
    """
    rows_of_doc: Dict[int, List[int]] = {}
    for row, doc_i in enumerate(owners):
        rows_of_doc.setdefault(doc_i, []).append(row)
    pairs = []
    for doc_i, example in enumerate(examples):
        source_i = example.reference.user_data.get(PAIR_KEY)
        if source_i is None:
            continue
        source_rows, view_rows = rows_of_doc.get(source_i, []), rows_of_doc.get(doc_i, [])
        if len(source_rows) == 1 and len(view_rows) == 1:
            pairs.append((source_rows[0], view_rows[0]))
    return pairs


class _ScaledOptimizer:
    """An optimizer view that scales every learning rate by a fixed factor.

    thinc's `finish_update` and its PyTorch shim call the optimizer without an
    `lr_scale`, so a part of the model that needs its own rate gets this view.
    """

    def __init__(self, optimizer: Optimizer, scale: float) -> None:
        self._optimizer = optimizer
        self._scale = scale

    def __call__(self, key: Tuple[int, str], weights: Any, gradient: Any, *, lr_scale: float = 1.0) -> Any:
        return self._optimizer(key, weights, gradient, lr_scale=lr_scale * self._scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optimizer, name)
