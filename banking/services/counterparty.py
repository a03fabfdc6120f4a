"""Who is on the other side of each statement line, in words a customer can read."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q
from django.utils.translation import pgettext_lazy

from accounts.models import Account, AccountKind, Identity, TransferCode
from accounts.selectors import StatementLine, StreamLine
from merchants.models import Merchant

# The bank's own accounts, by the kind of movement that touches them.
SYSTEM_NAMES = {
    TransferCode.DEPOSIT: pgettext_lazy("counterparty", "Bitcoin network (deposit)"),
    TransferCode.WITHDRAWAL: pgettext_lazy("counterparty", "Bitcoin network (withdrawal)"),
    TransferCode.FEE: pgettext_lazy("counterparty", "Alatau Bank (fee)"),
    TransferCode.EXCHANGE: pgettext_lazy("counterparty", "Alatau Bank (exchange)"),
}
BANK = pgettext_lazy("counterparty", "Alatau Bank")


def _customer_name(full_name: str, email: str) -> str:
    parts = full_name.split()
    if len(parts) >= 2:
        return f"{parts[0]} {parts[-1][0]}."
    if parts:
        return parts[0]
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def statement_counterparties(*, account: Account, lines: Iterable[StatementLine]) -> list[str]:
    """Return, line by line, the other party's name (masked for other customers).

    Three queries whatever the number of lines: the other accounts, their owners'
    identities, and the merchants among them.
    """
    pairs = [
        (
            line.transfer.debit_account_id
            if line.transfer.credit_account_id == account.pk
            else line.transfer.credit_account_id,
            line.transfer.code,
        )
        for line in lines
    ]
    return counterparty_names(pairs)


def stream_counterparties(lines: Iterable[StreamLine]) -> list[str]:
    """As ``statement_counterparties``, for a chunk of streamed lines."""
    return counterparty_names([(line.other_account_id, line.code) for line in lines])


def counterparty_names(pairs: list[tuple[int, str]]) -> list[str]:
    """Names for (other account id, transfer code) pairs, in three queries."""
    parties = _parties({other for other, _code in pairs})
    return [_name(parties, other, code) for other, code in pairs]


class StreamCounterparties:
    """``stream_counterparties`` for one download: each other account is looked up once.

    A long statement meets the same counterparties chunk after chunk; asking the
    database again for each chunk of 500 lines cost three queries a chunk (600 for a
    100,000-line PDF). At most ``KNOWN_MAX`` accounts are remembered: past that the
    memory starts again.
    """

    KNOWN_MAX = 10_000

    def __init__(self) -> None:
        self.parties: dict[int, str | None] = {}
        self.bank_names: dict[str, str] = {}  # the bank's name per movement, translated once

    def __call__(self, lines: Iterable[StreamLine]) -> list[str]:
        pairs = [(line.other_account_id, line.code) for line in lines]
        new = {other for other, _code in pairs if other not in self.parties}
        if new:
            if len(self.parties) + len(new) > self.KNOWN_MAX:
                self.parties.clear()
                new = {other for other, _code in pairs}
            found = _parties(new)
            self.parties.update({other: found.get(other, "") for other in new})
        return [self._name(other, code) for other, code in pairs]

    def _name(self, other: int, code: str) -> str:
        party = self.parties.get(other, "")
        if party is not None:
            return party
        name = self.bank_names.get(code)
        if name is None:
            name = self.bank_names[code] = _name(self.parties, other, code)
        return name


def _parties(other_ids: set[int]) -> dict[int, str | None]:
    """Each found account's name: a merchant's, a customer's (masked), None for the bank's.

    Three queries: the accounts, their owners' identities, the merchants among them.
    The bank's own accounts are named by the movement (``_name``).
    """
    # Plain values, not model instances: a long statement meets thousands of accounts.
    others = {
        pk: (kind, owner_id, email)
        for pk, kind, owner_id, email in Account.objects.filter(pk__in=other_ids).values_list(
            "pk", "kind", "owner_id", "owner__email"
        )
    }
    owner_ids = {owner_id for _kind, owner_id, _email in others.values() if owner_id}
    names = dict(Identity.objects.filter(user_id__in=owner_ids).values_list("user_id", "full_name"))
    merchant_of: dict[int, str] = {}
    for name, btc, kzt in Merchant.objects.filter(
        Q(btc_account_id__in=other_ids) | Q(kzt_account_id__in=other_ids)
    ).values_list("name", "btc_account_id", "kzt_account_id"):
        merchant_of[btc] = merchant_of[kzt] = name
    parties: dict[int, str | None] = {}
    for pk, (kind, owner_id, email) in others.items():
        if pk in merchant_of:
            parties[pk] = merchant_of[pk]
        elif kind == AccountKind.CUSTOMER and owner_id is not None:
            parties[pk] = _customer_name(names.get(owner_id, ""), email)
        else:
            parties[pk] = None
    return parties


def _name(parties: dict[int, str | None], other: int, code: str) -> str:
    """The line's counterparty: the party's name, the bank's by movement, "" if not found."""
    party = parties.get(other, "")
    if party is not None:
        return party
    label = SYSTEM_NAMES.get(TransferCode(code)) if code in TransferCode.values else None
    return str(label if label is not None else BANK)
