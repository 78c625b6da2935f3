"""Errors raised on bad user input."""

from pathlib import Path
from typing import Optional, Union


class DataError(ValueError):
    """Bad input data, located by file and (where known) line.

    The message always starts with ``FILE:LINE:`` (or ``FILE:``) so that the
    user can jump straight to the problem.
    """

    def __init__(
        self,
        path: Union[str, Path, None],
        problem: str,
        *,
        line: Optional[int] = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.problem = problem
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {problem}")
