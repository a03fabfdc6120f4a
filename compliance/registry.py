"""What upper apps tell compliance at startup, so compliance never imports them.

- A *subject review*: how the case screen decides the thing a case is about (custody
  registers its withdrawals: approve, reject, and the facts shown beside the case).
- An *admin counter*: one figure on the staff admin's index page (custody: withdrawals
  awaiting review; treasury: the last reconciliation).

Each app registers from its ``AppConfig.ready``; compliance looks them up by the
subject's ``app_label.model`` or the counter's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accounts.actor import Actor
from core.errors import InvalidState


@dataclass(frozen=True)
class SubjectReview:
    """How to decide a case's subject: the permission, two decisions, and its facts."""

    subject_type: str
    permission: str
    # (actor=, subject_id=, reason=, client_address=) -> a four-eyes proposal or None
    approve: Callable[..., Any]
    reject: Callable[..., Any]
    facts: Callable[[str], dict[str, Any]]


_REVIEWS: dict[str, SubjectReview] = {}
_COUNTERS: dict[str, Callable[[], Any]] = {}


def subject_review_register(review: SubjectReview) -> None:
    """Register (or replace) the review of one subject type."""
    _REVIEWS[review.subject_type] = review


def subject_review_permissions() -> set[str]:
    """Return the permissions that decide some registered subject (for showing controls)."""
    return {review.permission for review in _REVIEWS.values()}


def subject_review(subject_type: str) -> SubjectReview | None:
    """Return the registered review of ``subject_type``, if any."""
    return _REVIEWS.get(subject_type)


def admin_counter_register(name: str, counter: Callable[[], Any]) -> None:
    """Register (or replace) one figure of the admin index."""
    _COUNTERS[name] = counter


def admin_counters_registered() -> dict[str, Any]:
    """Return every registered figure, computed now."""
    return {name: counter() for name, counter in _COUNTERS.items()}


def case_subject_decide(
    *, approve: bool, actor: Actor, subject_type: str, subject_id: str, reason: str,
    client_address: str | None = None,
) -> Any:  # fmt: skip
    """Approve or reject a case's subject through the app that owns it."""
    review = subject_review(subject_type)
    if review is None:
        raise InvalidState(f"Cases about {subject_type} have no decision here")
    decide = review.approve if approve else review.reject
    return decide(actor=actor, subject_id=subject_id, reason=reason, client_address=client_address)
