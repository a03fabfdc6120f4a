"""What a screening rule sees and returns, and the registry of rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Decision(StrEnum):
    """What screening decides about a movement; the caller acts on it."""

    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


REVIEW = Decision.REVIEW
BLOCK = Decision.BLOCK
ALLOW = Decision.ALLOW


@dataclass(frozen=True)
class Movement:
    """An outgoing movement to screen. Amounts are integers; ``amount_kzt_tiyn`` is its
    KZT value at the rate of the time of the movement."""

    user: Any
    kind: str  # "withdrawal" | "transfer"
    subject_type: str
    subject_id: str
    amount_minor: int
    currency: str
    amount_kzt_tiyn: int
    at: datetime
    address: str = ""


@dataclass(frozen=True)
class Finding:
    """A rule that fired, with the figures that made it fire."""

    rule: str
    action: Decision  # REVIEW or BLOCK
    detail: str
    figures: dict[str, int | str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "action": self.action, "detail": self.detail, **self.figures}


Evaluate = Callable[[Movement, dict[str, int]], Finding | None]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    defaults: dict[str, int]
    evaluate: Evaluate
    kinds: tuple[str, ...] = ("withdrawal", "transfer")


RULES: dict[str, Rule] = {}


def rule(
    name: str,
    *,
    description: str,
    defaults: dict[str, int],
    kinds: tuple[str, ...] = ("withdrawal", "transfer"),
) -> Callable[[Evaluate], Evaluate]:
    """Register a screening rule under ``name`` with its default integer thresholds."""

    def register(func: Evaluate) -> Evaluate:
        RULES[name] = Rule(name, description, defaults, func, kinds)
        return func

    return register
