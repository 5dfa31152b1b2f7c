"""Progress reporting for long work, quiet by default in the Python API.

Library code takes a :class:`Progress` and calls ``task``/``update``; the CLI passes a
:class:`RichProgress` that draws bars on standard error, scripts and ``--json`` runs pass
:class:`NullProgress`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any


class Progress:
    """Does nothing; subclasses draw. Use as a context manager."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def task(self, description: str, total: float | None = None) -> Any:
        """Start a task and return its handle."""
        return None

    def update(self, handle: Any, completed: float, note: str = "") -> None:
        """Set how much of the task is done."""

    def finish(self, handle: Any) -> None:
        """Mark the task done."""


NullProgress = Progress


class RichProgress(Progress):
    """Progress bars on standard error, drawn by rich."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as _Bars

        self._bars = _Bars(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self._bars.stop()

    def task(self, description: str, total: float | None = None) -> Any:
        return self._bars.add_task(description, total=total, note="")

    def update(self, handle: Any, completed: float, note: str = "") -> None:
        self._bars.update(handle, completed=completed, note=note)

    def finish(self, handle: Any) -> None:
        task = self._bars.tasks[handle]
        self._bars.update(handle, completed=task.total or task.completed)
