"""Showing a build's progress: a progress bar per phase in a terminal, plain lines elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

from appwright.steps import STEPS, Step

__all__ = ["Progress"]

_PHASES = ("plan", "implement", "deploy", "iterate")


@dataclass(kw_only=True)
class Progress:
    """Reports step progress and what to tell the user."""

    console: Console
    """Where output goes."""
    fancy: bool
    """Whether to draw progress bars (an interactive terminal)."""
    _bars: RichProgress | None = field(default=None, init=False, repr=False)
    _tasks: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def for_terminal(cls, stream: IO[str]) -> Progress:
        """Bars when `stream` is a terminal, plain lines otherwise."""
        fancy = stream.isatty()
        return cls(console=Console(file=stream, force_terminal=fancy, soft_wrap=True), fancy=fancy)

    def report(self, event: str, step: Step, instance: str) -> None:
        """A step started, finished, or was already done."""
        if self.fancy:
            self._bar(event, step)
            return
        label = f"[{step.number}/{len(STEPS)}] {instance} — {step.title}"
        words = {"start": "…", "done": "done", "skip": "already done"}
        self.console.print(f"{label} {words[event]}", markup=False, highlight=False)

    def say(self, message: str) -> None:
        """What to tell the user."""
        self.console.print(f"  → {message}", markup=False, highlight=False)

    def _bar(self, event: str, step: Step) -> None:
        if self._bars is None:
            self._bars = RichProgress(TextColumn("{task.description:<10}"), BarColumn(),
                                      TextColumn("{task.fields[step]}"), TimeElapsedColumn(),
                                      console=self.console)
            for phase in _PHASES:
                total = sum(1 for s in STEPS if s.phase == phase)
                self._tasks[phase] = self._bars.add_task(phase, total=total, step="")
            self._bars.start()
        task = self._tasks[step.phase]
        self._bars.update(task, step=step.title)
        if event in ("done", "skip"):
            self._bars.advance(task)
        if all(self._bars.tasks[t].finished for t in self._tasks.values()):
            self._bars.stop()
