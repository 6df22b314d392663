"""A progress bar on stderr with throughput (samples/s and completion tokens/s)."""

from __future__ import annotations

import sys
import time


class GenProgress:
    """Rich progress bar; silent when disabled or when stderr is not a terminal."""

    def __init__(self, total: int | None, *, enabled: bool = True,
                 description: str = "generate"):
        """``total`` None: not known in advance (streamed input), the bar only counts."""
        self.total = total
        self.done = 0
        self.failed = 0
        self.tokens = 0
        self.t0 = time.monotonic()
        self._progress = None
        self._task = None
        if enabled and sys.stderr.isatty() and (total is None or total > 0):
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True))
            self._task = self._progress.add_task(description, total=total, rate="")

    def __enter__(self) -> GenProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def rate_text(self) -> str:
        secs = max(time.monotonic() - self.t0, 1e-9)
        text = f"{self.done / secs:.2f} samples/s, {self.tokens / secs:.0f} tok/s"
        return text + (f", {self.failed} failed" if self.failed else "")

    def advance(self, samples: int, tokens: int = 0) -> None:
        self.done += samples
        self.tokens += tokens
        if self._progress is not None:
            self._progress.update(self._task, advance=samples, rate=self.rate_text())

    def fail(self) -> None:
        self.failed += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, rate=self.rate_text())
