"""The `mclner` trainable pipe: MCL-NER token-pair relation NER as a spaCy component.

The pipe turns its model's grids into entities (grid.py decodes them) and trains
on the objective of objective.py; its settings are defined in settings.py.
"""
import inspect
import warnings
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import spacy
import srsly
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import minibatch
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate

from ..data.tokenizer import unsegmented_cjk_tokens
from ..grid import ScoredSpans, decode_windows, n_relation_classes, resolve_overlaps
from ..ml.architecture import GridBatch, GridGradient, build_head
from ..ml.optimizers import ScaledOptimizer
from .objective import expand_views, objective
from .scoring import score_entities
from .settings import MCLNERSettings, with_settings_signature

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
# `ent._.mclner_score`: the entity's THW probability, the score that `threshold` compares.
# Span extensions live in Doc.user_data, which DocBin(store_user_data=True) saves.
SCORE_EXTENSION = "mclner_score"
if not Span.has_extension(SCORE_EXTENSION):
    Span.set_extension(SCORE_EXTENSION, default=None)


def make_mclner(
    nlp: Language, name: str, model: Model[List[Doc], GridBatch], scorer: Optional[Callable], **settings: Any
) -> "MCLNER":
    """Create an `mclner` component: flat entities in `Doc.ents`, scored candidates in `Doc.spans`.

    The settings are MCLNERSettings' fields (documented there).
    """
    return MCLNER(nlp.vocab, model, name, settings=MCLNERSettings(**settings), scorer=scorer)


_FACTORY_PARAMETERS = [
    inspect.Parameter("nlp", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Language),
    inspect.Parameter("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
    inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Model[List[Doc], GridBatch]),
    inspect.Parameter("scorer", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Optional[Callable]),
]
Language.factory(
    "mclner",
    assigns=["doc.ents", "doc.spans"],
    default_config={
        "model": DEFAULT_MCLNER_MODEL,
        **MCLNERSettings().to_cfg(),
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
)(with_settings_signature(make_mclner, _FACTORY_PARAMETERS))


class MCLNER(TrainablePipe):
    """Zero-shot cross-lingual NER by word-pair relation classification (MCL-NER)."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], GridBatch],
        name: str = "mclner",
        *,
        settings: MCLNERSettings = MCLNERSettings(),
        scorer: Optional[Callable] = score_entities,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {"labels": [], "encoder_width": None, **settings.to_cfg()}
        # The model bands its grids by the entity width the component decodes and trains.
        self.model.attrs["max_entity_width"] = settings.max_entity_width
        self._loss_parts: Dict[str, float] = {}
        # Samples L_tc's cells; seeded from numpy's global state, which spaCy's training seed fixes.
        self._rng = numpy.random.default_rng(numpy.random.randint(2**31))

    @property
    def settings(self) -> MCLNERSettings:
        """The settings in force: those of the cfg, which loading a pipeline restores."""
        return MCLNERSettings(**{key: self.cfg[key] for key in MCLNERSettings().to_cfg()})

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
        flat = resolve_overlaps(spans)
        ents, proposals = (
            [
                Span(doc, s, e, label=labels[l])
                for s, e, l in zip(group.starts.tolist(), group.ends.tolist(), group.labels.tolist())
            ]
            for group in (flat, spans)
        )
        doc.set_ents(ents, default="outside")
        stale = [key for key in doc.user_data if isinstance(key, tuple) and key[:2] == ("._.", SCORE_EXTENSION)]
        for key in stale:  # a doc annotated before keeps no score of an entity it lost
            del doc.user_data[key]
        for ent, score in zip(ents, flat.scores.tolist()):
            ent._.set(SCORE_EXTENSION, score)
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
        """The training objective (objective.py); returns (loss, gradients of the grid outputs).

        The loss's parts are kept in `_loss_parts`, so that update() can log them one by one.
        """
        result = objective(list(examples), grid, self.labels, self.settings, self._rng, self.name)
        self._loss_parts = result.parts
        return result.loss, result.gradients

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the encoder at `encoder_lr_scale` times the optimizer's rate, the head at full rate."""
        self.model.get_ref("tok2vec").finish_update(ScaledOptimizer(sgd, self.cfg["encoder_lr_scale"]))
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

    def _restore_state(self, saved: Dict[str, Any]) -> None:
        """Take what training learnt (labels, encoder width) from a saved cfg, not its settings.

        The settings arrive through the factory from the pipeline's config, so a user who
        loads with other settings (`spacy.load(path, config={"components": {"mclner":
        {"threshold": 0.5}}})`) gets them, rather than the saved copy silently winning.
        """
        self.cfg.update({key: saved[key] for key in ("labels", "encoder_width") if key in saved})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "MCLNER":
        self._restore_state(srsly.json_loads(srsly.msgpack_loads(bytes_data)["cfg"]))
        self._initialize_before_deserializing()
        return super().from_bytes(bytes_data, exclude=[*exclude, "cfg"])

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "MCLNER":
        cfg_path = Path(path) / "cfg"
        if not cfg_path.exists():
            raise ValueError(f"Cannot load '{self.name}' from {path}: the folder has no 'cfg' file")
        try:
            self._restore_state(srsly.read_json(cfg_path))
        except ValueError as error:
            raise ValueError(f"Cannot load '{self.name}': {cfg_path} is not valid JSON ({error})") from error
        self._initialize_before_deserializing()
        try:
            return super().from_disk(path, exclude=[*exclude, "cfg"])
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
