"""The `mclner` component's settings, defined once: the factory's defaults, signature and the saved cfg come from here."""
import inspect
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Dict, List, Optional


# Marks the settings that change what a trained pipe predicts; the others only shape its training.
PREDICTS = {"predicts": True}


@dataclass(frozen=True)
class MCLNERSettings:
    """What a user sets in `[components.mclner]`, besides the model and the scorer.

    spans_key: the `Doc.spans` key of the scored candidates.
    max_entity_width: longest entity (in tokens) that is decoded and trained on.
    none_weight: weight of `none` cells in the grid cross-entropy (1.0: unweighted, the
        paper's plain L_ce). 0.1 by default: at convergence it scored 70.9 against 1.0's 70.2
        (CoNLL, docs/results.md), and 1.0 keeps the grid predicting nothing for the first
        hundreds of steps (target F1 0.4 at step 150, against 43.2).
    encoder_lr_scale: the encoder's learning rate as a share of the optimizer's
        (paper: 1e-5 for the encoder, 1e-3 for the rest, i.e. 0.01).
    require_nnw: keep a decoded span only when its NNW chain is predicted too.
    threshold: minimal THW probability of a decoded span.
    sc_weight, tc_weight: weights of the semantic (L_sc) and relation (L_tc)
        contrastive losses on code-switched views; 0 switches one off (the
        paper's ablations w/o sc, w/o tc, w/o both).
    temperature: InfoNCE temperature of both contrastive losses, unless sc_temperature is set.
    sc_temperature: L_sc's own temperature (None: `temperature`), to tune the sentence-level
        loss apart from the cell-level one (a remedy tried on L_sc, docs/results.md).
    tc_other_cells: cells between kept words sampled per sentence for L_tc,
        besides all aligned entity cells.
    mse_weight: weight of L_mse between the student's and the teacher's cell
        distributions on pseudo-labelled docs (self-training); 0 in the source stage.
    """

    spans_key: str = field(default="mclner", metadata=PREDICTS)
    max_entity_width: int = field(default=32, metadata=PREDICTS)
    none_weight: float = 0.1
    encoder_lr_scale: float = 0.01
    require_nnw: bool = field(default=True, metadata=PREDICTS)
    threshold: float = field(default=0.0, metadata=PREDICTS)
    sc_weight: float = 0.5
    tc_weight: float = 0.5
    temperature: float = 0.1
    sc_temperature: Optional[float] = None
    tc_other_cells: int = 16
    mse_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.max_entity_width < 1:
            raise ValueError(f"max_entity_width must be at least 1, got {self.max_entity_width}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {self.threshold}")

    @property
    def sc_tau(self) -> float:
        """The temperature L_sc uses."""
        return self.temperature if self.sc_temperature is None else self.sc_temperature

    def to_cfg(self) -> Dict[str, Any]:
        return asdict(self)

    def prediction_cfg(self) -> Dict[str, Any]:
        """The settings that change predictions: two pipes with equal weights and these predict alike."""
        return {item.name: getattr(self, item.name) for item in fields(self) if item.metadata.get("predicts")}


def with_settings_signature(factory: Callable, leading: List[inspect.Parameter]) -> Callable:
    """Give `factory(nlp, name, model, scorer, **settings)` one typed keyword per setting.

    spaCy validates a component's config against its factory's signature, so
    each setting must appear there, typed; deriving it from MCLNERSettings keeps
    the dataclass the only place a setting is written.
    """
    settings = [
        inspect.Parameter(item.name, inspect.Parameter.KEYWORD_ONLY, default=item.default, annotation=item.type)
        for item in fields(MCLNERSettings)
    ]
    factory.__signature__ = inspect.Signature(leading + settings)  # type: ignore[attr-defined]
    return factory
