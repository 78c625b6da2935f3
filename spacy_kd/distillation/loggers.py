"""``spacy-kd.ConsoleLogger.v1``: spaCy's console table with the students' loss terms.

spaCy's ConsoleLogger shows one loss column per trainable component, read from
``info["losses"][component_name]``; other keys of ``losses`` are dropped. A
student component also reports its gold and distillation terms under
``NAME_gold`` and ``NAME_distill``; this logger adds a column for each (``LOSS
GOLD`` and ``LOSS DISTILL``, or the full key when there are several students),
in the console table and in the JSONL ``output_file``. Everything else is
spaCy's ``spacy.ConsoleLogger.v3``.
"""

import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.training.loggers import console_logger_v3
from spacy.util import registry

from spacy_kd.distillation.student import DistillationMixin


class _Column:
    """Stands in for a trainable component in the stock logger's column list."""

    is_trainable = True


class _LoggedPipeline:
    """What the stock console logger reads from ``nlp``: its config and pipeline."""

    def __init__(self, nlp: Language, pipeline: List[Tuple[str, Any]]) -> None:
        self.config = nlp.config
        self.pipeline = pipeline


@registry.loggers("spacy-kd.ConsoleLogger.v1")
def create_console_logger(
    progress_bar: Optional[str] = None,
    console_output: bool = True,
    output_file: Optional[Union[str, Path]] = None,
):
    """spaCy's ConsoleLogger.v3 plus a gold and a distillation loss column per student.

    Arguments as for ``spacy.ConsoleLogger.v3``.
    """
    stock = console_logger_v3(
        progress_bar=progress_bar,
        console_output=console_output,
        output_file=output_file,
    )

    def setup_printer(
        nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr
    ) -> Tuple[Callable[[Optional[Dict[str, Any]]], None], Callable[[], None]]:
        students = [
            (name, pipe)
            for name, pipe in nlp.pipeline
            if isinstance(pipe, DistillationMixin)
        ]
        taken = set(nlp.component_names)
        columns: Dict[str, str] = {}  # column name -> losses key
        pipeline: List[Tuple[str, Any]] = []
        for name, pipe in nlp.pipeline:
            pipeline.append((name, pipe))
            if not isinstance(pipe, DistillationMixin):
                continue
            for short, key in (
                ("gold", pipe.gold_loss_key),
                ("distill", pipe.distill_loss_key),
            ):
                column = short if len(students) == 1 and short not in taken else key
                columns[column] = key
                pipeline.append((column, _Column()))
        log_step, finalize = stock(_LoggedPipeline(nlp, pipeline), stdout, stderr)

        def log(info: Optional[Dict[str, Any]]) -> None:
            if info is not None and columns:
                losses = dict(info["losses"])
                for column, key in columns.items():
                    losses[column] = losses.get(key, 0.0)
                info = {**info, "losses": losses}
            log_step(info)

        return log, finalize

    return setup_printer
