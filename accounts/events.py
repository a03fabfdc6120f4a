"""What the ledger tells the apps above it, without importing them.

``account_frozen`` is sent inside the freezing transaction, so a receiver's writes
(custody sending the account's approved withdrawals back to review) commit or roll back
with the freeze. Receivers connect in their ``AppConfig.ready``.
"""

from django.dispatch import Signal

# account=Account, actor=Actor, reason=str
account_frozen = Signal()
