"""The memory directive of a step, and its enforcement.

Every step page ends with a memory directive: which keys to carry forward, which
the step stores, which it discards. The engine, not the step, applies it: the
step's output must hold exactly the declared `store` keys, which are written, and
the `discard` keys are dropped, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DirectiveViolation
from .facts import FactsMixin
from .ids import RunId, StepId

__all__ = ["DirectiveMixin", "MemoryDirective"]


@dataclass(frozen=True, kw_only=True)
class MemoryDirective:
    """What a step does to the run's memory."""

    carry_forward: frozenset[str] = field(default_factory=frozenset)
    """Keys already in memory that later steps still need (kept as they are)."""
    store: frozenset[str] = field(default_factory=frozenset)
    """Keys the step adds: its output must hold exactly these."""
    discard: frozenset[str] = field(default_factory=frozenset)
    """Keys dropped once the step is done."""
    secret: frozenset[str] = field(default_factory=frozenset)
    """Keys among `store` whose values are secrets (keys named like secrets are anyway)."""

    def __post_init__(self) -> None:
        # Accept any iterable of names; a bare string would become its letters.
        for name in ("carry_forward", "store", "discard", "secret"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"MemoryDirective.{name} takes a set of keys, not a string")
            object.__setattr__(self, name, frozenset(value))
        _require_disjoint("store", self.store, "discard", self.discard)
        _require_disjoint("carry_forward", self.carry_forward, "discard", self.discard)
        if not self.secret <= self.store:
            strays = ", ".join(sorted(self.secret - self.store))
            raise ValueError(f"MemoryDirective.secret names keys not in store: {strays}")


def _require_disjoint(name_a: str, a: frozenset[str], name_b: str, b: frozenset[str]) -> None:
    if a & b:
        raise ValueError(
            f"MemoryDirective lists {', '.join(sorted(a & b))} in both {name_a} and {name_b}"
        )


class DirectiveMixin(FactsMixin):
    """Applying a step's memory directive to its output."""

    def apply_directive(
        self,
        run_id: RunId,
        step_id: StepId,
        directive: MemoryDirective,
        output: Mapping[str, Any],
    ) -> None:
        """Store the `store` keys of `output` and drop the `discard` keys, as one unit.

        Raises `DirectiveViolation` (and changes nothing) when `output` lacks a
        declared key or holds an undeclared one.
        """
        missing = tuple(sorted(directive.store - output.keys()))
        undeclared = tuple(sorted(output.keys() - directive.store))
        if missing or undeclared:
            raise DirectiveViolation(step_id, missing=missing, undeclared=undeclared)
        with self.atomic():
            self.put_facts(run_id, step_id, dict(output), directive.secret)
            self.drop_facts(run_id, directive.discard)
