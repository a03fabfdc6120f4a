"""Deposits on the real regtest node: credit once, rescans, dust, suspense, reorgs."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.models import Account, AccountKind, AccountStatus, Transfer
from accounts.selectors import ledger_check
from accounts.services import account_freeze, system_account
from compliance.models import Case
from custody.addresses import bip21_uri
from custody.models import (
    AddressPurpose,
    Deposit,
    DepositAddress,
    DepositStatus,
    ListenerCall,
)
from custody.node import btc
from custody.services import deposit_address_new, deposit_scan, deposits
from custody.services.deposits import CURSOR_NAME, ScanReport
from tests.conftest import GuardWindow, run_threads
from tests.custody.conftest import Chain, refresh

pytestmark = [pytest.mark.node, pytest.mark.usefixtures("scan_from_tip")]


def _credits(account: Account) -> list[Transfer]:
    return list(Transfer.objects.filter(credit_account=account, code="deposit"))


def test_deposit_credited_once_after_confirmations(chain: Chain, funded_account: Any) -> None:
    account = funded_account()
    address = deposit_address_new(account=account)
    assert address.address.startswith("bcrt1q")
    txid = chain.send(address.address, 150_000)

    deposit_scan()  # in the mempool: recorded, not credited
    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.status, deposit.confirmations, deposit.amount_sats) == ("pending", 0, 150_000)
    assert refresh(account).posted_minor == 0

    chain.mine(2)
    deposit_scan()
    deposit.refresh_from_db()
    assert deposit.confirmations == 2
    assert refresh(account).posted_minor == 0

    chain.mine(1)
    report = deposit_scan()
    assert report.credited == 1
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.CREDITED
    assert refresh(account).posted_minor == 150_000

    for _ in range(3):  # repeated runs, more blocks and a full rescan credit nothing more
        chain.mine(1)
        deposit_scan()
    Deposit.objects.filter(pk=deposit.pk)  # the cursor reset below forces a full re-read
    from custody.models import ChainCursor

    ChainCursor.objects.filter(name=CURSOR_NAME).update(block_hash="")
    deposit_scan()
    call_command("deposits_scan", "--quiet")
    assert refresh(account).posted_minor == 150_000
    assert len(_credits(account)) == 1
    assert Deposit.objects.filter(txid=txid).count() == 1
    assert ledger_check() == []


def test_old_addresses_stay_valid_and_bip21(chain: Chain, funded_account: Any) -> None:
    account = funded_account()
    first = deposit_address_new(account=account)
    second = deposit_address_new(account=account)
    assert first.address != second.address
    chain.funder.send_many({first.address: 10_000, second.address: 20_000})
    chain.mine(3)
    deposit_scan()
    assert refresh(account).posted_minor == 30_000
    uri = bip21_uri(first.address, amount_sats=150_000, label="Alatau deposit")
    assert uri == f"bitcoin:{first.address}?amount=0.0015&label=Alatau%20deposit"


def test_dust_recorded_never_credited(chain: Chain, funded_account: Any) -> None:
    account = funded_account()
    address = deposit_address_new(account=account)
    with override_settings(DEPOSIT_MIN_SATS=5_000):
        chain.send(address.address, 4_000)
        chain.mine(3)
        deposit_scan()
    deposit = Deposit.objects.get(address=address.address)
    assert deposit.status == DepositStatus.DUST
    assert refresh(account).posted_minor == 0


def test_unknown_and_frozen_go_to_suspense_with_a_case(
    chain: Chain, funded_account: Any, admin_user: Any
) -> None:
    suspense = system_account(AccountKind.SUSPENSE, "BTC")
    before = suspense.posted_minor
    frozen = funded_account()
    frozen_address = deposit_address_new(account=frozen)
    account_freeze(account_id=frozen.pk, actor=admin_user, reason="test")
    unknown = chain.hot.call("getnewaddress", "", "bech32")  # never recorded by the bank
    chain.funder.send_many({frozen_address.address: 30_000, unknown: 40_000})
    chain.mine(3)
    report = deposit_scan()
    assert report.suspense == 2
    assert refresh(suspense).posted_minor == before + 70_000
    assert refresh(frozen).posted_minor == 0
    assert sorted(Deposit.objects.filter(status=DepositStatus.SUSPENSE)
                  .values_list("suspense_reason", flat=True)) == [
        "account_frozen", "unknown_address"]  # fmt: skip
    assert Case.objects.filter(kind="deposit_suspense").count() == 2
    assert ledger_check() == []


def test_account_closed_while_crediting_sends_its_deposit_to_suspense(
    chain: Chain, funded_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed after the batch's read, before its ledger call: refused, retried, suspense."""
    from custody.services import deposit_credit

    open_account, closing = funded_account(), funded_account()
    paid = {deposit_address_new(account=open_account).address: 30_000,
            deposit_address_new(account=closing).address: 40_000}  # fmt: skip
    chain.funder.send_many(paid)
    chain.mine(3)
    real = deposit_credit.transfer_batch_post
    calls: list[int] = []

    def post(**kwargs: Any) -> list[int]:
        if not calls:  # another session closes the account as the batch posts
            Account.objects.filter(pk=closing.pk).update(status=AccountStatus.CLOSED)
        calls.append(len(kwargs["transfers"]))
        return real(**kwargs)

    monkeypatch.setattr(deposit_credit, "transfer_batch_post", post)
    report = deposit_scan()
    assert calls == [2, 2]  # refused once (nothing written), then posted
    assert (report.credited, report.suspense) == (1, 1)
    assert refresh(open_account).posted_minor == 30_000
    assert refresh(closing).posted_minor == 0
    held = Deposit.objects.get(status=DepositStatus.SUSPENSE)
    assert (held.amount_sats, held.suspense_reason) == (40_000, "credit_refused")
    assert Case.objects.filter(kind="deposit_suspense").count() == 1
    assert deposit_scan().credited == 0
    assert ledger_check() == []


def test_deposit_from_a_sanctioned_source_is_held_in_suspense(
    chain: Chain, funded_account: Any
) -> None:
    from compliance.models import SanctionedAddress
    from custody.node import node_client
    from custody.services import wallet_load_or_create

    # A wallet outside the bank whose coins sit on an address on the sanctions list.
    wallet_load_or_create(client=node_client(), name="sanctioned-payer")
    payer = node_client().wallet("sanctioned-payer")
    dirty = payer.call("getnewaddress", "", "bech32")
    chain.send(dirty, 200_000)
    chain.mine(1)
    SanctionedAddress.objects.create(address=dirty, source="test list")
    customer = funded_account()
    address = deposit_address_new(account=customer)
    suspense = system_account(AccountKind.SUSPENSE, "BTC")
    before = suspense.posted_minor
    txid = payer.call("sendtoaddress", address.address, btc(50_000))
    chain.mine(3)
    report = deposit_scan()
    assert report.suspense == 1
    assert refresh(customer).posted_minor == 0
    assert refresh(suspense).posted_minor == before + 50_000
    deposit = Deposit.objects.get(txid=txid, address=address.address)
    assert (deposit.status, deposit.suspense_reason) == ("suspense", "sanctioned_source")
    case = Case.objects.get(kind="sanctions", subject_id=str(deposit.pk))
    assert case.findings[0]["reason"] == "sanctioned_source"
    assert dirty in case.findings[0]["sources"]
    assert deposit_scan().suspense == 0  # never twice
    assert ledger_check() == []


def test_invoice_address_threshold_and_listeners(
    chain: Chain, funded_account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    merchant = funded_account()
    address = deposit_address_new(
        account=merchant, purpose=AddressPurpose.INVOICE, required_confirmations=0
    )
    seen.clear()
    listeners = override_settings(CUSTODY_DEPOSIT_LISTENERS=[f"{__name__}.listener"])
    with listeners, django_capture_on_commit_callbacks(execute=True):
        chain.send(address.address, 25_000)
        deposit_scan()
    assert refresh(merchant).posted_minor == 25_000  # 0 confirmations suffice here
    # Owed once when recorded and once when credited: the outbox runs the listener once
    # for both (after commit, it reads the row as it is by then), and owes nothing more.
    assert seen == [("credited", 0)]
    assert not ListenerCall.objects.exists()


seen: list[tuple[str, int]] = []


def listener(deposit: Deposit) -> None:
    seen.append((deposit.status, deposit.confirmations))


def _conflicting_tx(chain: Chain, txid: str) -> str:
    """A funder transaction spending the same inputs as ``txid`` back to the funder."""
    raw = chain.funder.call("gettransaction", txid)
    decoded = chain.client.call("decoderawtransaction", raw["hex"])
    inputs = [{"txid": i["txid"], "vout": i["vout"]} for i in decoded["vin"]]
    value = sum(_prev_value(chain, i["txid"], i["vout"]) for i in inputs)
    out = {chain.new_funder_address(): btc(value - 10_000)}
    unsigned = chain.client.call("createrawtransaction", inputs, out)
    signed = chain.funder.call("signrawtransactionwithwallet", unsigned)
    assert signed["complete"]
    return str(signed["hex"])


def _prev_value(chain: Chain, txid: str, vout: int) -> int:
    from custody.node import sats

    prev = chain.funder.call("gettransaction", txid)
    decoded = chain.client.call("decoderawtransaction", prev["hex"])
    return sats(decoded["vout"][vout]["value"])


def test_reorg_reverses_credit_and_opens_case(chain: Chain, funded_account: Any) -> None:
    account = funded_account()
    address = deposit_address_new(account=account)
    txid = chain.send(address.address, 200_000)
    conflict = _conflicting_tx(chain, txid)
    blocks = chain.mine(3)
    deposit_scan()
    assert refresh(account).posted_minor == 200_000

    chain.node("invalidateblock", blocks[0])
    chain.node("generateblock", chain.mine_address, [conflict])
    chain.mine(3)  # the competing chain is longer and never had the deposit

    report = deposit_scan()
    assert report.reorged == 1
    deposit = Deposit.objects.get(txid=txid)
    assert deposit.status == DepositStatus.REORGED
    assert refresh(account).posted_minor == 0
    assert Case.objects.filter(kind="deposit_reorg", subject_id=str(deposit.pk)).exists()
    assert Transfer.objects.filter(code="reversal", credit_account__kind="custody_hot").exists()
    assert ledger_check() == []
    deposit_scan()  # nothing more happens
    assert refresh(account).posted_minor == 0
    chain.node("reconsiderblock", blocks[0])  # leave the node's chain valid


def test_reorg_after_spending_freezes_and_books_shortfall(
    chain: Chain, funded_account: Any
) -> None:
    account = funded_account()
    other = funded_account()
    address = deposit_address_new(account=account)
    txid = chain.send(address.address, 100_000)
    conflict = _conflicting_tx(chain, txid)
    blocks = chain.mine(3)
    deposit_scan()
    from accounts.services import transfer_create

    transfer_create(
        debit_account_id=account.pk,
        credit_account_id=other.pk,
        amount_minor=60_000,
        code="internal",
        initiator=account.owner,
    )
    suspense = system_account(AccountKind.SUSPENSE, "BTC")
    before = suspense.posted_minor

    chain.node("invalidateblock", blocks[0])
    chain.node("generateblock", chain.mine_address, [conflict])
    chain.mine(3)
    deposit_scan()

    account = refresh(account)
    assert account.status == AccountStatus.FROZEN
    assert account.posted_minor == 0
    assert refresh(suspense).posted_minor == before - 60_000  # receivable from the customer
    assert ledger_check() == []
    chain.node("reconsiderblock", blocks[0])


def test_deposit_address_rules(funded_account: Any, chain: Chain) -> None:
    from accounts.errors import AccountFrozen
    from core.errors import ValidationFailed

    kzt = funded_account(currency="KZT")
    with pytest.raises(ValidationFailed, match="BTC accounts"):
        deposit_address_new(account=kzt)
    with pytest.raises(ValidationFailed, match="BTC accounts"):
        deposit_address_new(account=system_account(AccountKind.SUSPENSE, "BTC"))
    btc_account = funded_account()
    with pytest.raises(ValidationFailed) as bad:
        deposit_address_new(account=btc_account, required_confirmations=-1)
    assert "required_confirmations" in bad.value.fields
    account_freeze(account_id=btc_account.pk, actor=None, reason="test")
    with pytest.raises(AccountFrozen):
        deposit_address_new(account=refresh(btc_account))
    assert DepositAddress.objects.count() == 0  # nothing refused was written


def test_conflicted_deposit_is_never_credited(chain: Chain, funded_account: Any) -> None:
    account = funded_account()
    address = deposit_address_new(account=account)
    txid = chain.send(address.address, 80_000)
    deposit_scan()
    conflict = _conflicting_tx(chain, txid)
    chain.node("generateblock", chain.mine_address, [conflict])  # the double spend wins
    chain.mine(3)
    deposit_scan()
    deposit = Deposit.objects.get(txid=txid)
    assert deposit.confirmations < 0
    assert deposit.status == DepositStatus.PENDING
    assert refresh(account).posted_minor == 0


def test_reorg_that_mines_the_deposit_again_keeps_the_credit(
    chain: Chain, funded_account: Any
) -> None:
    account = funded_account()
    address = deposit_address_new(account=account)
    txid = chain.send(address.address, 90_000)
    blocks = chain.mine(3)
    deposit_scan()
    assert refresh(account).posted_minor == 90_000
    chain.node("invalidateblock", blocks[0])  # the tx goes back to the mempool
    # ... and is mined again in a competing chain (another coinbase address, so the
    # blocks differ from the invalidated ones).
    chain.node("generatetoaddress", 4, chain.new_funder_address())
    deposit_scan()
    deposit = Deposit.objects.get(txid=txid)
    assert deposit.status == DepositStatus.CREDITED
    assert deposit.confirmations >= 3
    assert refresh(account).posted_minor == 90_000
    assert not Case.objects.filter(kind="deposit_reorg").exists()
    assert len(_credits(account)) == 1
    chain.node("reconsiderblock", blocks[0])


def test_zero_conf_invoice_credit_reversed_when_double_spent(
    chain: Chain, funded_account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    merchant = funded_account()
    address = deposit_address_new(
        account=merchant, purpose=AddressPurpose.INVOICE, required_confirmations=0
    )
    txid = chain.send(address.address, 70_000)
    deposit_scan()
    assert refresh(merchant).posted_minor == 70_000  # credited at 0 confirmations
    conflict = _conflicting_tx(chain, txid)
    chain.node("generateblock", chain.mine_address, [conflict])
    seen.clear()
    listeners = override_settings(CUSTODY_DEPOSIT_LISTENERS=[f"{__name__}.listener"])
    with listeners, django_capture_on_commit_callbacks(execute=True):
        report = deposit_scan()
    assert [status for status, _ in seen] == ["reorged"]  # the merchant hears of it
    assert report.reorged == 1
    assert Deposit.objects.get(txid=txid).status == DepositStatus.REORGED
    assert refresh(merchant).posted_minor == 0
    assert Case.objects.filter(kind="deposit_reorg").count() == 1
    assert ledger_check() == []


def test_recording_many_outputs_takes_a_bounded_number_of_queries(
    chain: Chain, funded_account: Any, django_assert_max_num_queries: Any
) -> None:
    accounts = [funded_account() for _ in range(5)]
    addresses = [deposit_address_new(account=accounts[i % 5]).address for i in range(60)]
    chain.funder.send_many(dict.fromkeys(addresses, 5_000))
    chain.sync()  # the hot wallet has seen the payment
    with django_assert_max_num_queries(18):  # not one per output (3: confirmations follow-up)
        report = deposit_scan()
    assert report.recorded == 60


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("own_hot_wallet")  # earlier tests' unmined outputs are not read here
def test_two_scans_at_once_credit_each_deposit_once(
    chain: Chain, funded_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = [funded_account() for _ in range(3)]
    for i, account in enumerate(accounts):
        chain.send(deposit_address_new(account=account).address, 10_000 * (i + 1))
    chain.mine(3)
    # The first scan past the scan lock waits there, before it reads the wallet, until
    # every other scan has got in too or was turned away: with the lock the other three
    # are busy while it is inside; without it all four read the same outputs together.
    window = GuardWindow(4)
    read_wallet = deposits._since_block

    def since_block(*args: Any) -> Any:
        window.enter()
        return read_wallet(*args)

    monkeypatch.setattr(deposits, "_since_block", since_block)
    results = run_threads(4, lambda _: window.run(deposit_scan))
    assert all(isinstance(r, ScanReport) for r in results), results
    assert sum(r.credited for r in results) == 3  # whoever ran, each credit happened once
    assert sum(r.recorded for r in results if not r.busy) == 3
    assert [refresh(a).posted_minor for a in accounts] == [10_000, 20_000, 30_000]
    assert Deposit.objects.filter(status=DepositStatus.CREDITED).count() == 3
    assert ledger_check() == []
    assert window.entered == 1 and [r.busy for r in results].count(True) == 3  # serialised
    assert deposit_scan().credited == 0
