"""Every write of compliance: cases (and, as they land, rules, limits, four eyes)."""

from compliance.services.cases import case_open

__all__ = ["case_open"]
