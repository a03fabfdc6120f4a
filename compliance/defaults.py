"""Default rows: rule settings and tier limits (used by the data migration and post_migrate)."""

from __future__ import annotations

from typing import Any

KZT = 100  # tiyn per tenge

# tier -> kind -> (per transaction, daily, monthly) in tiyn. Tier 0 (email confirmed,
# identity not approved) may transfer small sums inside the bank but not withdraw,
# as ``banking.services.kyc.TIER_DESCRIPTIONS`` tells customers.
TIER_LIMIT_DEFAULTS: dict[int, dict[str, tuple[int, int, int]]] = {
    0: {"withdrawal": (0, 0, 0), "transfer": (50_000 * KZT, 100_000 * KZT, 300_000 * KZT)},
    1: {
        "withdrawal": (500_000 * KZT, 1_000_000 * KZT, 5_000_000 * KZT),
        "transfer": (500_000 * KZT, 1_000_000 * KZT, 5_000_000 * KZT),
    },
    2: {
        "withdrawal": (5_000_000 * KZT, 10_000_000 * KZT, 50_000_000 * KZT),
        "transfer": (5_000_000 * KZT, 10_000_000 * KZT, 50_000_000 * KZT),
    },
}


def defaults_setup(apps: Any = None) -> None:
    """Create missing rule settings and tier limits; never overwrite staff edits."""
    from compliance.rules import CONFIG_DEFAULTS, RULES

    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    rule_config = apps.get_model("compliance", "RuleConfig")
    tier_limit = apps.get_model("compliance", "TierLimit")
    rows = {name: (r.description, r.defaults) for name, r in RULES.items()} | CONFIG_DEFAULTS
    for name, (description, params) in rows.items():
        rule_config.objects.get_or_create(
            name=name, defaults={"params": dict(params), "description": description[:300]}
        )
    for tier, kinds in TIER_LIMIT_DEFAULTS.items():
        for kind, (per_tx, daily, monthly) in kinds.items():
            tier_limit.objects.get_or_create(
                tier=tier,
                kind=kind,
                defaults={
                    "per_transaction_tiyn": per_tx,
                    "daily_tiyn": daily,
                    "monthly_tiyn": monthly,
                },
            )
