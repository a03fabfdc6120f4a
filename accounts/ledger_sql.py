"""The SQL of ``ledger_transfer``: one-round-trip posting used by ``transfer_create``.

Under the account locks it does exactly what the Python posting primitives do
(``accounts/services/posting.py``): check, insert the transfer, move both
balances, append the audit event (through ``audit_append``, owned by ``audit/sql.py``).
Migrations 0005, 0007 and 0009 install it with CREATE OR REPLACE, so the latest text
here is what every database runs.

The idempotency lookups read ``accounts_transferkey`` (the one index of keys across the
monthly partitions of the transfers, ``accounts/partitions.py``, migration 0012). The
INSERT's accounts are checked by a statement trigger, not by deferred foreign keys at
COMMIT (migration 0013, ``accounts/references.py``).
"""

LEDGER_TRANSFER_SQL = r"""
CREATE OR REPLACE FUNCTION ledger_transfer(
    p_debit bigint, p_credit bigint, p_amount bigint, p_code text, p_initiator bigint,
    p_key text, p_hash text, p_memo text, p_group uuid, p_source_type integer,
    p_source_id text, p_allow_frozen boolean, p_kzt bigint, p_client inet,
    p_actor_label text, p_now timestamptz, p_caps jsonb
) RETURNS TABLE (status text, transfer_id bigint, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    d accounts_account%ROWTYPE;
    c accounts_account%ROWTYPE;
    existing record;
    new_id bigint;
    event_data jsonb;
    payload text;
BEGIN
    -- Lock both accounts in ascending id order: deadlock-free with every other service.
    PERFORM 1 FROM accounts_account WHERE id IN (p_debit, p_credit) ORDER BY id FOR UPDATE;
    -- Two spellings of the key lookup so that each can use the unique index: a cached
    -- generic plan of "initiator_id IS NOT DISTINCT FROM $1" cannot, and scans the table.
    IF p_key IS NOT NULL AND p_initiator IS NULL THEN
        SELECT t.id, t.request_hash INTO existing FROM accounts_transferkey t
         WHERE t.initiator_id IS NULL AND t.idempotency_key = p_key;
    ELSIF p_key IS NOT NULL THEN
        SELECT t.id, t.request_hash INTO existing FROM accounts_transferkey t
         WHERE t.initiator_id = p_initiator AND t.idempotency_key = p_key;
    END IF;
    IF p_key IS NOT NULL THEN
        IF FOUND THEN
            RETURN QUERY SELECT 'replay'::text, existing.id, existing.request_hash::text;
            RETURN;
        END IF;
    END IF;
    SELECT * INTO d FROM accounts_account WHERE id = p_debit;
    IF NOT FOUND THEN RETURN QUERY SELECT 'account_not_found', NULL::bigint, p_debit::text; RETURN; END IF;
    SELECT * INTO c FROM accounts_account WHERE id = p_credit;
    IF NOT FOUND THEN RETURN QUERY SELECT 'account_not_found', NULL::bigint, p_credit::text; RETURN; END IF;
    IF d.id = c.id THEN RETURN QUERY SELECT 'same_account', NULL::bigint, ''::text; RETURN; END IF;
    IF d.currency <> c.currency THEN
        RETURN QUERY SELECT 'currency_mismatch', NULL::bigint, d.currency || '/' || c.currency; RETURN;
    END IF;
    IF p_amount > (p_caps ->> d.currency)::bigint THEN
        RETURN QUERY SELECT 'over_cap', NULL::bigint, d.currency::text; RETURN;
    END IF;
    IF c.status = 'closed' THEN RETURN QUERY SELECT 'account_closed', NULL::bigint, c.number::text; RETURN; END IF;
    IF d.status = 'closed' THEN RETURN QUERY SELECT 'account_closed', NULL::bigint, d.number::text; RETURN; END IF;
    IF d.status = 'frozen' AND NOT p_allow_frozen THEN
        RETURN QUERY SELECT 'account_frozen', NULL::bigint, d.number::text; RETURN;
    END IF;
    IF d.kind IN ('customer', 'merchant') AND d.posted_minor - d.held_minor < p_amount THEN
        RETURN QUERY SELECT 'insufficient_funds', NULL::bigint, ''::text; RETURN;
    END IF;

    INSERT INTO accounts_transfer (group_id, debit_account_id, credit_account_id, amount_minor,
        currency, code, source_type_id, source_id, initiator_id, idempotency_key, request_hash,
        memo, reverses_id, kzt_value_tiyn, created_at)
    VALUES (p_group, p_debit, p_credit, p_amount, d.currency, p_code, p_source_type, p_source_id,
        p_initiator, p_key, p_hash, p_memo, NULL, p_kzt, p_now)
    RETURNING id INTO new_id;
    UPDATE accounts_account
       SET posted_minor = posted_minor + CASE WHEN id = p_debit THEN -p_amount ELSE p_amount END,
           version = version + 1
     WHERE id IN (p_debit, p_credit);

    -- The audit event, through the chain's one append (audit/sql.py), the last write here.
    event_data := jsonb_build_object('debit', p_debit, 'credit', p_credit, 'amount_minor', p_amount,
        'currency', d.currency, 'code', p_code, 'group_id', p_group::text);
    payload := jsonb_build_object('created_at', to_json(p_now), 'actor_id', p_initiator,
        'actor_label', p_actor_label, 'action', 'transfer.create',
        'object_type', 'accounts.transfer', 'object_id', new_id::text,
        'client_address', host(p_client), 'data', event_data)::text;
    PERFORM audit_append(p_now, p_initiator, p_actor_label, 'transfer.create',
        'accounts.transfer', new_id::text, p_client, event_data, payload);
    RETURN QUERY SELECT 'ok'::text, new_id, d.currency::text;
END;
$$;
"""
