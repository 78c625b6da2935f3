"""Per-model, per-process state that must not be serialised with the model.

thinc serialises every ``model.attrs`` entry and its models cannot be weakly
referenced, so transient state (a frozen encoder's feature cache, the set of texts
already counted into a df table) is kept here, keyed by ``model.id``. Only the
most recently used ``MAX_MODELS`` models keep their state, so a long-lived process
that builds many models does not grow without bound.
"""

from collections import OrderedDict
from typing import Any, Callable

MAX_MODELS = 16


class ModelState:
    def __init__(
        self, factory: Callable[[], Any], max_models: int = MAX_MODELS
    ) -> None:
        self.factory = factory
        self.max_models = max_models
        self._states: OrderedDict[int, Any] = OrderedDict()

    def get(self, model_id: int) -> Any:
        if model_id in self._states:
            self._states.move_to_end(model_id)
        else:
            self._states[model_id] = self.factory()
            while len(self._states) > self.max_models:
                self._states.popitem(last=False)
        return self._states[model_id]

    def __len__(self) -> int:
        return len(self._states)


def dict_state() -> ModelState:
    return ModelState(dict)


def set_state() -> ModelState:
    return ModelState(set)


__all__ = ["ModelState", "dict_state", "set_state"]
