"""Student text classifiers that learn from gold labels and from teachers' soft labels.

``kd_textcat`` and ``kd_textcat_multilabel`` are spaCy's ``textcat`` and
``textcat_multilabel`` with another training loss (``spacy_kd.distillation.losses``):
cross-entropy on gold docs, a temperature-scaled distillation term on
pseudo-labelled docs (told apart by the record ``annotate`` writes, see
``spacy_kd.annotate.pseudo``), and per-example weights. They accept soft
``doc.cats`` on pseudo-labelled docs, which spaCy's components reject (E851).

Prediction, scoring and serialization are the stock components' own, and the
models are stock spaCy architectures, so a trained student is turned into a stock
pipeline without any change to its weights (``spacy_kd.distillation.export``).
"""

from itertools import islice
from typing import (
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
)

import numpy
from spacy.language import Language
from spacy.pipeline.textcat import (
    DEFAULT_SINGLE_TEXTCAT_MODEL,
    TextCategorizer,
    textcat_score,
)
from spacy.pipeline.textcat_multilabel import (
    DEFAULT_MULTI_TEXTCAT_MODEL,
    MultiLabel_TextCategorizer,
    textcat_multilabel_score,
)
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from spacy_kd.annotate.pseudo import (
    AnnotationError,
    check_pseudo_doc,
    example_weight,
    is_pseudo,
    teacher_targets,
)
from spacy_kd.distillation.corpus import SOURCE_KEY
from spacy_kd.distillation.logits import (
    SIGMOID_ACTIVATION,
    SOFTMAX_ACTIVATION,
    logits_forward,
    output_kind,
)
from spacy_kd.distillation.losses import (
    CROSS_ENTROPY,
    check_settings,
    distillation_loss,
)
from spacy_kd.teachers.tfidf import fit_tfidf_layers
from spacy_kd.util import EPS

# Factory arguments that the stock components do not have (dropped on export).
STUDENT_SETTINGS = ("temperature", "alpha", "loss")

SCORE_WEIGHTS = {
    "cats_score": 1.0,
    "cats_score_desc": None,
    "cats_micro_p": None,
    "cats_micro_r": None,
    "cats_micro_f": None,
    "cats_macro_p": None,
    "cats_macro_r": None,
    "cats_macro_f": None,
    "cats_macro_auc": None,
    "cats_f_per_type": None,
}


class DistillationMixin:
    """The training side shared by the exclusive and the multi-label student.

    Attributes set from the config and, step by step, by the
    ``spacy-kd.distillation.v1`` callback: ``temperature`` (> 0), ``alpha`` (the
    weight of the gold term, in [0, 1]) and ``loss`` ("cross_entropy" or
    "squared_error").
    """

    name: str
    model: Model
    labels: Tuple[str, ...]
    multi_label: bool

    def _init_distillation(self, temperature: float, alpha: float, loss: str) -> None:
        check_settings(temperature=temperature, alpha=alpha, kind=loss)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.loss = loss

    def set_distillation(
        self, *, temperature: Optional[float] = None, alpha: Optional[float] = None
    ) -> None:
        """Change the temperature and/or alpha (checked) for the next updates."""
        temperature = self.temperature if temperature is None else float(temperature)
        alpha = self.alpha if alpha is None else float(alpha)
        check_settings(temperature=temperature, alpha=alpha, kind=self.loss)
        self.temperature, self.alpha = temperature, alpha

    @property
    def gold_loss_key(self) -> str:
        """The ``losses`` key of the (weighted) gold term."""
        return f"{self.name}_gold"

    @property
    def distill_loss_key(self) -> str:
        """The ``losses`` key of the (weighted) distillation term."""
        return f"{self.name}_distill"

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of gold and pseudo-labelled examples.

        ``losses[name]`` gets the total, ``losses[name + "_gold"]`` and
        ``losses[name + "_distill"]`` its two (weighted) terms.
        """
        if losses is None:
            losses = {}
        for key in (self.name, self.gold_loss_key, self.distill_loss_key):
            losses.setdefault(key, 0.0)
        validate_examples(examples, f"{type(self).__name__}.update")
        examples = list(examples)
        self._validate_categories(examples)
        if not any(len(eg.predicted) if eg.predicted else 0 for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        logits, backprop = logits_forward(
            self.model, [eg.predicted for eg in examples], is_train=True
        )
        result = self._loss(examples, logits)
        backprop(result.d_logits)
        if sgd is not None:
            self.finish_update(sgd)  # type: ignore[attr-defined]
        losses[self.name] += result.total
        losses[self.gold_loss_key] += result.gold
        losses[self.distill_loss_key] += result.distill
        return losses

    def get_loss(self, examples: Iterable[Example], scores) -> Tuple[float, Floats2d]:
        """The loss of a batch from the model's output, and the gradient its output
        layer expects (d/d logits for thinc's Softmax layer, d/d probabilities for
        an activation layer). ``update`` works on logits directly and does not
        need this; it is here for the TrainablePipe API.
        """
        validate_examples(examples, f"{type(self).__name__}.get_loss")
        examples = list(examples)
        self._validate_categories(examples)
        xp = self.model.ops.xp
        # clipped so that the logits worked back from the probabilities are finite
        probs = xp.clip(xp.asarray(scores, dtype="float64"), EPS, 1.0 - EPS)
        if self.multi_label:
            logits = xp.log(probs) - xp.log1p(-probs)
        else:
            logits = xp.log(probs)
        result = self._loss(examples, logits)
        d_logits = result.d_logits
        kind = output_kind(self.model)
        if kind == SIGMOID_ACTIVATION:
            d_scores = d_logits / (probs * (1.0 - probs))
        elif kind == SOFTMAX_ACTIVATION:
            # The softmax Jacobian maps d/dp = d_logits / p back onto d_logits,
            # because d_logits sums to 0 on every row.
            d_scores = d_logits / probs
        else:
            d_scores = d_logits
        return result.total, self.model.ops.asarray(d_scores, dtype=scores.dtype)

    def _loss(self, examples: Sequence[Example], logits: Floats2d):
        targets, pseudo, weights, mask = self._targets(examples)
        xp = self.model.ops.xp
        return distillation_loss(
            logits,
            xp.asarray(targets),
            pseudo=xp.asarray(pseudo),
            weights=xp.asarray(weights),
            alpha=self.alpha,
            temperature=self.temperature,
            multi_label=self.multi_label,
            kind=self.loss,
            mask=xp.asarray(mask),
        )

    def _targets(self, examples: Sequence[Example]):
        """Targets (gold labels or softened teacher probabilities), which rows are
        pseudo-labelled, per-example weights and the gold missing-value mask."""
        labels = list(self.labels)
        n = len(examples)
        targets = numpy.zeros((n, len(labels)), dtype="float64")
        mask = numpy.ones((n, len(labels)), dtype="float64")
        pseudo = numpy.zeros((n,), dtype="float64")
        weights = numpy.ones((n,), dtype="float64")
        for i, eg in enumerate(examples):
            ref = eg.reference
            weights[i] = example_weight(ref)
            if is_pseudo(ref):
                pseudo[i] = 1.0
                targets[i] = teacher_targets(ref, labels, self.temperature)
                continue
            for j, label in enumerate(labels):
                if label in ref.cats:
                    targets[i, j] = ref.cats[label]
                elif self.multi_label:
                    mask[i, j] = 0.0
        return targets, pseudo, weights, mask

    def _validate_categories(
        self, examples: Iterable[Example], *, offset: int = 0
    ) -> None:
        """Gold docs: 0/1 values (one positive at most if exclusive). Pseudo-labelled
        docs: probabilities over exactly the component's labels, summing to 1 if
        exclusive, with a consistent teacher record.

        offset: the position of the first example in the training corpus (messages).
        """
        labels = tuple(self.labels)
        for i, eg in enumerate(examples, start=offset):
            ref = eg.reference
            if is_pseudo(ref):
                want = labels or tuple(ref.cats)
                problem = check_pseudo_doc(ref, want, self.multi_label)
                if problem is not None:
                    raise AnnotationError(
                        f"{self.name}: pseudo-labelled {_where(ref, i)} "
                        f"('{_snippet(ref.text)}'): {problem}"
                    )
                continue
            values = list(ref.cats.items())
            for label, value in values:
                if value not in (0.0, 1.0):
                    raise AnnotationError(
                        f"{self.name}: gold {_where(ref, i)} "
                        f"('{_snippet(ref.text)}') has cats['{label}'] = {value}; "
                        "gold labels must be 0 or 1. Soft "
                        "labels from a teacher need the teacher record that "
                        "`spacy_kd annotate` writes "
                        "(spacy_kd.annotate.pseudo.mark_pseudo)."
                    )
            if not self.multi_label and sum(v for _, v in values) > 1.0:
                positive = [label for label, v in values if v == 1.0]
                raise AnnotationError(
                    f"{self.name}: gold {_where(ref, i)} "
                    f"('{_snippet(ref.text)}') has {len(positive)} positive labels "
                    f"{positive[:5]} but the classes are exclusive; use "
                    "kd_textcat_multilabel for multi-label data."
                )

    def _check_model(self) -> None:
        output_kind(self.model)


class KDTextCategorizer(DistillationMixin, TextCategorizer):
    """``textcat`` (exclusive classes) trained with cross-entropy and distillation."""

    multi_label = False

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "kd_textcat",
        *,
        threshold: float,
        scorer: Optional[Callable] = textcat_score,
        temperature: float = 1.0,
        alpha: float = 0.5,
        loss: str = CROSS_ENTROPY,
    ) -> None:
        super().__init__(vocab, model, name, threshold=threshold, scorer=scorer)
        self._init_distillation(temperature, alpha, loss)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
        positive_label: Optional[str] = None,
    ) -> None:
        self._check_model()
        super().initialize(
            get_examples, nlp=nlp, labels=labels, positive_label=positive_label
        )
        _check_all(self, get_examples)


class KDMultiLabelTextCategorizer(DistillationMixin, MultiLabel_TextCategorizer):
    """``textcat_multilabel`` trained with binary cross-entropy and distillation."""

    multi_label = True

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "kd_textcat_multilabel",
        *,
        threshold: float,
        scorer: Optional[Callable] = textcat_multilabel_score,
        temperature: float = 1.0,
        alpha: float = 0.5,
        loss: str = CROSS_ENTROPY,
    ) -> None:
        super().__init__(vocab, model, name, threshold=threshold, scorer=scorer)
        self._init_distillation(temperature, alpha, loss)

    def initialize(  # type: ignore[override]
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
    ) -> None:
        self._check_model()
        super().initialize(get_examples, nlp=nlp, labels=labels)
        _check_all(self, get_examples)


def _check_all(
    pipe: DistillationMixin, get_examples: Callable[[], Iterable[Example]]
) -> None:
    """Validate every training example once labels are known (before any update),
    and fit the corpus statistics of the model's layers (TF-IDF document
    frequencies) on every training doc, gold and pseudo-labelled."""
    validate_get_examples(get_examples, f"{type(pipe).__name__}.initialize")

    def checked_docs() -> Iterator[Doc]:
        examples = iter(get_examples())
        offset = 0
        while True:
            chunk: List[Example] = list(islice(examples, 1000))
            if not chunk:
                return
            pipe._validate_categories(chunk, offset=offset)
            offset += len(chunk)
            yield from (eg.predicted for eg in chunk)

    # one pass over the corpus (a pool of pseudo-labelled shards is large) serves
    # both; what fit_tfidf_layers leaves unread (no TF-IDF layer) is checked after
    docs = checked_docs()
    fit_tfidf_layers(pipe.model, docs)
    for _ in docs:
        pass


def _where(doc, i: int) -> str:
    """Where a reference doc comes from: its position among the examples, with its
    file and doc index when the corpus reader recorded them."""
    source = doc.user_data.get(SOURCE_KEY)
    return f"example {i} ({source})" if source else f"example {i}"


def _snippet(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


@Language.factory(
    "kd_textcat",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.0,
        "model": DEFAULT_SINGLE_TEXTCAT_MODEL,
        "scorer": {"@scorers": "spacy.textcat_scorer.v2"},
        "temperature": 1.0,
        "alpha": 0.5,
        "loss": CROSS_ENTROPY,
    },
    default_score_weights=SCORE_WEIGHTS,
)
def make_kd_textcat(
    nlp: Language,
    name: str,
    model: Model,
    threshold: float,
    scorer: Optional[Callable],
    temperature: float,
    alpha: float,
    loss: str,
) -> KDTextCategorizer:
    """A ``textcat`` that trains with cross-entropy and learns from teachers.

    temperature: softens the teacher and student distributions in the
        distillation term (> 0). alpha: the weight of the gold term, ``1 - alpha``
        that of the distillation term. loss: "cross_entropy" (KL for pseudo docs)
        or "squared_error". The ``spacy-kd.distillation.v1`` callback can drive
        temperature and alpha by schedules.
    """
    return KDTextCategorizer(
        nlp.vocab,
        model,
        name,
        threshold=threshold,
        scorer=scorer,
        temperature=temperature,
        alpha=alpha,
        loss=loss,
    )


@Language.factory(
    "kd_textcat_multilabel",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.5,
        "model": DEFAULT_MULTI_TEXTCAT_MODEL,
        "scorer": {"@scorers": "spacy.textcat_multilabel_scorer.v2"},
        "temperature": 1.0,
        "alpha": 0.5,
        "loss": CROSS_ENTROPY,
    },
    default_score_weights=SCORE_WEIGHTS,
)
def make_kd_textcat_multilabel(
    nlp: Language,
    name: str,
    model: Model,
    threshold: float,
    scorer: Optional[Callable],
    temperature: float,
    alpha: float,
    loss: str,
) -> KDMultiLabelTextCategorizer:
    """A ``textcat_multilabel`` that trains with binary cross-entropy and learns
    from teachers (see ``kd_textcat`` for the settings)."""
    return KDMultiLabelTextCategorizer(
        nlp.vocab,
        model,
        name,
        threshold=threshold,
        scorer=scorer,
        temperature=temperature,
        alpha=alpha,
        loss=loss,
    )
