"""Training callbacks: the distillation schedule and the export of a stock student.

``spacy-kd.distillation.v1`` is a ``[training.before_update]`` callback: before
every update it sets the temperature and alpha of the student components from
constants or schedules (``spacy-kd.linear.v1``, or any thinc schedule such as
``constant.v1`` or ``warmup_linear.v1``), indexed by the training step.

``spacy-kd.export_student.v1`` is a ``[training.before_to_disk]`` callback: the
pipelines ``spacy train`` saves (model-best, model-last) hold the stock
``textcat`` / ``textcat_multilabel`` in place of each student, with the same
weights, so they load without spacy_kd.
"""

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.util import registry

from spacy_kd.distillation.export import export_student
from spacy_kd.distillation.losses import check_settings
from spacy_kd.distillation.student import DistillationMixin

ScheduleValue = Union[float, Iterable[float]]


class LinearSchedule(Iterator[float]):
    """``start`` at step 0, moving linearly to ``end`` at step ``steps``, then ``end``.

    An iterator like thinc's schedules (one value per step), which also states its
    range so that a callback can check every value it will ever produce upfront.
    """

    def __init__(self, start: float, end: float, steps: int) -> None:
        if steps < 0:
            raise ValueError(f"spacy-kd.linear.v1: steps must be >= 0, got {steps}")
        self.start, self.end, self.steps = float(start), float(end), int(steps)
        self._step = 0

    def value(self, step: int) -> float:
        if self.steps == 0 or step >= self.steps:
            return self.end
        return self.start + (self.end - self.start) * step / self.steps

    def __iter__(self) -> "LinearSchedule":
        return self

    def __next__(self) -> float:
        value = self.value(self._step)
        self._step += 1
        return value

    @property
    def bounds(self) -> tuple:
        return (min(self.start, self.end), max(self.start, self.end))


@registry.schedules("spacy-kd.linear.v1")
def linear_schedule(start: float, end: float, steps: int) -> LinearSchedule:
    """A linear ramp from ``start`` to ``end`` over ``steps`` steps (then constant)."""
    return LinearSchedule(start, end, steps)


class _ByStep:
    """The value of a constant or of a schedule (an iterator, one value per step) at
    a training step. Values already drawn are kept, so a step may be asked again."""

    def __init__(self, what: str, value: ScheduleValue) -> None:
        self.what = what
        self._values: List[float] = []
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self._constant: Optional[float] = float(value)
            self._iter: Optional[Iterator[float]] = None
        elif isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
            self._constant = None
            self._iter = iter(value)
        else:
            raise ValueError(
                f"spacy-kd.distillation.v1: {what} must be a number or a schedule, "
                f"got {type(value).__name__}"
            )

    def at(self, step: int) -> float:
        if self._constant is not None:
            return self._constant
        assert self._iter is not None
        while len(self._values) <= step:
            try:
                value = next(self._iter)
                self._values.append(float(value))
            except (TypeError, ValueError):
                raise ValueError(
                    f"spacy-kd.distillation.v1: the {self.what} schedule gave "
                    f"{value!r}, not a number"
                ) from None
            except StopIteration:
                if not self._values:
                    raise ValueError(
                        f"spacy-kd.distillation.v1: the {self.what} schedule is empty"
                    ) from None
                self._values.append(self._values[-1])
        return self._values[step]


def _check(what: str, value: float, where: str) -> None:
    try:
        if what == "temperature":
            check_settings(temperature=value, alpha=0.0)
        else:
            check_settings(temperature=1.0, alpha=value)
    except ValueError as e:
        raise ValueError(f"spacy-kd.distillation.v1: {e} ({where})") from None


@registry.callbacks("spacy-kd.distillation.v1")
def create_distillation_callback(
    temperature: Optional[ScheduleValue] = None,
    alpha: Optional[ScheduleValue] = None,
    components: Optional[List[str]] = None,
) -> Callable[[Language, Dict[str, Any]], None]:
    """Drive the students' temperature and alpha by training step.

    temperature, alpha: a number, or a schedule (``spacy-kd.linear.v1`` or a thinc
        schedule); None leaves the component's own setting. The temperature must
        stay > 0 and alpha in [0, 1]: constants, the first value of any schedule
        and both ends of a ``spacy-kd.linear.v1`` ramp are checked here, before
        training starts.
    components: the names of the student components to drive (default: all
        ``kd_textcat`` / ``kd_textcat_multilabel`` components).
    """
    schedules: Dict[str, _ByStep] = {}
    for what, value in (("temperature", temperature), ("alpha", alpha)):
        if value is None:
            continue
        if isinstance(value, LinearSchedule):
            for end in value.bounds:
                _check(what, end, f"an end of its spacy-kd.linear.v1 schedule is {end}")
        schedules[what] = _ByStep(what, value)
        _check(what, schedules[what].at(0), "at step 0")
    chosen: Dict[int, List[DistillationMixin]] = {}

    def before_update(nlp: Language, args: Dict[str, Any]) -> None:
        step = int(args["step"])
        key = id(nlp)
        if key not in chosen:
            chosen[key] = _students(nlp, components)
        settings = {}
        for what, by_step in schedules.items():
            value = by_step.at(step)
            _check(what, value, f"its schedule gave {value} at step {step}")
            settings[what] = value
        for pipe in chosen[key]:
            pipe.set_distillation(**settings)

    return before_update


def _students(nlp: Language, names: Optional[List[str]]) -> List[DistillationMixin]:
    found = {
        name: pipe for name, pipe in nlp.pipeline if isinstance(pipe, DistillationMixin)
    }
    if names is None:
        if not found:
            raise ValueError(
                "spacy-kd.distillation.v1: the pipeline has no student component "
                "(factory kd_textcat or kd_textcat_multilabel); its components are "
                f"{nlp.pipe_names}"
            )
        return list(found.values())
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(
            f"spacy-kd.distillation.v1: {missing} are not enabled student components "
            f"(kd_textcat or kd_textcat_multilabel); the students are {sorted(found)}"
        )
    return [found[name] for name in names]


@registry.callbacks("spacy-kd.export_student.v1")
def create_export_student_callback() -> Callable[[Language], Language]:
    """A ``[training.before_to_disk]`` callback: save students as stock components.

    ``spacy train`` saves the pipeline this returns; training goes on with the
    original one. See ``spacy_kd.distillation.export.export_student``.
    """
    return export_student
