"""The merchant web door: the store's dashboard, invoices, till, payment requests, payouts."""
