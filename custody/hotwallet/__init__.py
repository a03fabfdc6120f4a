"""Spending from the hot wallet: every rule in one place, one lifecycle for every spend.

Withdrawal batches (custody), sweeps and cold-to-hot moves (treasury) all go through here:

* ``fees``: the miner fee rate, ``estimatesmartfee`` within the configured floor and cap.
* ``builder``: the builder lock (one builder of a hot-wallet spend at a time), the
  unsent-spend guard (no new spend while a committed one is unsent: its coins still look
  unspent to the node), the build (fund, sign, finalise) and the unlock of coins that a
  builder locked but never committed (it died, or the build was discarded).
* ``verdict``: what a node's refusal of our own committed bytes means (book, wait, lose).
* ``lifecycle``: signed -> broadcast -> confirmed, or failed; each kind of spend (a
  ``SpendKind``) adds only its own ledger legs.
* ``kinds``: ``SpendKind`` and the registry of the kinds that spend the hot wallet. Custody
  registers its batches and treasury its sweeps from their ``AppConfig.ready``, so custody
  never imports treasury.

Why a crash can never pay twice:

* A spend's signed transaction and txid are committed (status ``signed``) before
  anything is broadcast. Broadcasting re-sends exactly those bytes; "already in the mempool
  or chain" counts as success. A retry, or a crash after ``sendrawtransaction``, can only
  re-send the same transaction, which the network accepts once.
* Crash after signing but before the commit: the transaction was never stored and never
  broadcast, so it does not exist outside that dead process. Coins it locked with
  ``lockUnspents`` (in the node's memory) are unlocked by the next builder, which then
  builds a new transaction.
* No node call is made while a database row lock is held: the builder lock is a
  PostgreSQL advisory lock held outside any transaction, the node is asked first and the
  result committed after, in a short transaction that re-checks what it writes.
"""
