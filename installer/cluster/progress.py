"""How deploy and undeploy report progress: a live display on a terminal, lines otherwise.

A deploy takes from seconds to minutes (CRDs to establish, webhooks to come up); people watching
a terminal want to see which phase it is in, logs and CI want one line per step, and scripts
want nothing (``--quiet``). The orchestration calls the same three methods whichever it gets.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    def start(self, phase: str, total: int) -> None:
        """A phase begins with ``total`` objects to apply."""

    def advance(self, phase: str) -> None:
        """One object of ``phase`` was applied."""

    def note(self, text: str) -> None:
        """Anything else worth a line (waits, prunes, summaries)."""

    def __enter__(self) -> Progress: ...

    def __exit__(self, *exc: object) -> None: ...


class LineProgress:
    """One plain line per phase and per note (logs, CI, pipes)."""

    def __init__(self, write: Any = None) -> None:
        self.write = write or (lambda text: print(text, file=sys.stderr, flush=True))

    def start(self, phase: str, total: int) -> None:
        self.write(f"{phase}: applying {total} objects")

    def advance(self, phase: str) -> None:
        pass

    def note(self, text: str) -> None:
        self.write(text)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class QuietProgress(LineProgress):
    """Nothing at all (``--quiet``): errors still reach stderr through the CLI."""

    def __init__(self) -> None:
        super().__init__(lambda text: None)


class RichProgress:
    """A bar per phase, on stderr, while the deploy runs (a terminal only)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichBars

        self.console = Console(file=stream)
        self.bars = RichBars(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def start(self, phase: str, total: int) -> None:
        self.tasks[phase] = self.bars.add_task(phase, total=total)

    def advance(self, phase: str) -> None:
        if phase in self.tasks:
            self.bars.advance(self.tasks[phase])

    def note(self, text: str) -> None:
        self.bars.console.print(text, markup=False, highlight=False)

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()


def for_terminal(quiet: bool = False, stream: TextIO | None = None) -> Progress:
    """The reporter that suits where stderr goes."""
    out = stream or sys.stderr
    if quiet:
        return QuietProgress()
    if out.isatty():
        return RichProgress(out)
    return LineProgress(lambda text: print(text, file=out, flush=True))
