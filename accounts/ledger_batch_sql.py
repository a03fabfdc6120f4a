"""The SQL of ``ledger_transfer_batch``: many transfers posted atomically in one call.

``accounts.services.transfer_batch.transfer_batch_create`` validates its input in
Python and calls this function once per batch. Set-based where it can be, so a
batch of a thousand transfers costs a handful of statements, not thousands:

1. lock every account the batch touches, once, in ascending id order
   (deadlock-free with ``ledger_transfer`` and every other service);
2. look every idempotency key up (two index-friendly spellings, as in
   ``ledger_transfer``): a known key with the same request is a replay and is
   not posted again, with a different request the whole batch is refused;
3. check every new item (accounts exist and differ, same currency, cap, closed,
   frozen) and the available balance of every owned debit account as the batch
   runs in order (a window sum), so an item may spend what an earlier one paid in;
4. take transfer ids from the sequence in item order, insert all transfers, move
   every balance in one UPDATE;
5. last, lock the audit chain head, hash the events one after the other (the
   chain is sequential by nature: a tight loop over in-memory values) and insert
   them in one statement, so the head row is held for the shortest time.

The first failing item (1-based ``idx``) is returned with its status word and
nothing is written. Payloads are the text ``ledger_transfer`` builds, byte for byte
(spelled out as jsonb prints it, which costs half of building it), so ``audit_verify``
cannot tell a batched transfer from a single one.

The INSERT's references are checked by the database once per statement (migration
0013, ``accounts/references.py``): the transfers' accounts by a statement trigger, not
by deferred foreign keys row by row at COMMIT, which held this batch's locks for as
long again as the function itself.

The idempotency lookups read ``accounts_transferkey`` (the one index of keys across the
monthly partitions of the transfers, ``accounts/partitions.py``, migration 0012).
"""

LEDGER_TRANSFER_BATCH_SQL = r"""
CREATE OR REPLACE FUNCTION ledger_transfer_batch(
    p_debit bigint[], p_credit bigint[], p_amount bigint[], p_code text[], p_initiator bigint[],
    p_key text[], p_hash text[], p_memo text[], p_group uuid[], p_source_type integer[],
    p_source_id text[], p_allow_frozen boolean[], p_kzt bigint[], p_actor_label text[],
    p_client inet, p_now timestamptz, p_caps jsonb
) RETURNS TABLE (idx integer, status text, transfer_id bigint, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(p_debit), 0);
    rep_ids bigint[];
    rep_hashes text[];
    tids bigint[];
    new_count integer;
    bad record;
    payloads text[];
    ev_tid bigint[];
    ev_actor bigint[];
    ev_label text[];
    ev_data jsonb[];
    created_json text := to_json(p_now)::text;
    client_json text := coalesce(to_json(host(p_client))::text, 'null');
    k integer;
BEGIN
    IF n = 0 THEN RETURN; END IF;
    IF (n = ALL (ARRAY[cardinality(p_credit), cardinality(p_amount), cardinality(p_code),
            cardinality(p_initiator), cardinality(p_key), cardinality(p_hash),
            cardinality(p_memo), cardinality(p_group), cardinality(p_source_type),
            cardinality(p_source_id), cardinality(p_allow_frozen), cardinality(p_kzt),
            cardinality(p_actor_label)])) IS NOT TRUE THEN
        RAISE EXCEPTION 'ledger_transfer_batch: the item arrays differ in length';
    END IF;

    -- 0. Batches queue behind each other (single transfers do not wait for this): two
    --    batches that lock hundreds of the same rows in the same order would otherwise
    --    interleave and convoy, each waiting on the other row by row.
    PERFORM pg_advisory_xact_lock(7021712531542016001);
    -- 1. Every account of the batch, locked once, in ascending id order.
    PERFORM 1 FROM accounts_account WHERE id = ANY (p_debit || p_credit) ORDER BY id FOR UPDATE;

    -- 2. Idempotency keys already used (each spelling can use the unique index).
    SELECT array_agg(x.id ORDER BY u.i), array_agg(x.request_hash ORDER BY u.i)
      INTO rep_ids, rep_hashes
      FROM unnest(p_initiator, p_key) WITH ORDINALITY AS u(initiator, key, i)
      LEFT JOIN LATERAL (
            SELECT t.id, t.request_hash FROM accounts_transferkey t
             WHERE u.key IS NOT NULL AND u.initiator IS NULL
               AND t.initiator_id IS NULL AND t.idempotency_key = u.key
            UNION ALL
            SELECT t.id, t.request_hash FROM accounts_transferkey t
             WHERE u.key IS NOT NULL AND u.initiator IS NOT NULL
               AND t.initiator_id = u.initiator AND t.idempotency_key = u.key
      ) x ON true;
    SELECT u.i INTO bad FROM unnest(rep_hashes, p_hash) WITH ORDINALITY AS u(stored, sent, i)
     WHERE u.stored IS NOT NULL AND u.stored <> u.sent ORDER BY u.i LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT bad.i::integer, 'idempotency_conflict'::text, NULL::bigint, ''::text;
        RETURN;
    END IF;

    -- 3a. Each new item on its own: the first that fails refuses the batch.
    SELECT u.i, CASE
             WHEN d.id IS NULL THEN 'account_not_found'
             WHEN c.id IS NULL THEN 'account_not_found'
             WHEN d.id = c.id THEN 'same_account'
             WHEN d.currency <> c.currency THEN 'currency_mismatch'
             WHEN u.amount IS NULL OR u.amount <= 0 OR u.amount > (p_caps ->> d.currency)::bigint
                  THEN 'over_cap'
             WHEN c.status = 'closed' THEN 'account_closed'
             WHEN d.status = 'closed' THEN 'account_closed'
             ELSE 'account_frozen' END AS status,
           CASE
             WHEN d.id IS NULL THEN u.debit::text
             WHEN c.id IS NULL THEN u.credit::text
             WHEN d.id = c.id THEN ''
             WHEN d.currency <> c.currency THEN d.currency || '/' || c.currency
             WHEN u.amount IS NULL OR u.amount <= 0 OR u.amount > (p_caps ->> d.currency)::bigint
                  THEN d.currency::text
             WHEN c.status = 'closed' THEN c.number::text
             ELSE d.number::text END AS detail
      INTO bad
      FROM unnest(p_debit, p_credit, p_amount, p_allow_frozen, rep_ids)
           WITH ORDINALITY AS u(debit, credit, amount, allow_frozen, replay, i)
      LEFT JOIN accounts_account d ON d.id = u.debit
      LEFT JOIN accounts_account c ON c.id = u.credit
     WHERE u.replay IS NULL
       AND (d.id IS NULL OR c.id IS NULL OR d.id = c.id OR d.currency <> c.currency
            OR u.amount IS NULL OR u.amount <= 0 OR u.amount > (p_caps ->> d.currency)::bigint
            OR c.status = 'closed' OR d.status = 'closed'
            OR (d.status = 'frozen' AND NOT coalesce(u.allow_frozen, false)))
     ORDER BY u.i LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT bad.i::integer, bad.status::text, NULL::bigint, bad.detail::text;
        RETURN;
    END IF;

    -- 3b. Available funds of owned debit accounts, as the batch runs in item order.
    SELECT r.i INTO bad FROM (
        SELECT l.i, l.delta, a.kind,
               a.posted_minor - a.held_minor
                 + sum(l.delta) OVER (PARTITION BY l.account ORDER BY l.i) AS available
          FROM (SELECT u.i, u.debit AS account, -u.amount AS delta
                  FROM unnest(p_debit, p_amount, rep_ids) WITH ORDINALITY AS u(debit, amount, replay, i)
                 WHERE u.replay IS NULL
                UNION ALL
                SELECT u.i, u.credit, u.amount
                  FROM unnest(p_credit, p_amount, rep_ids) WITH ORDINALITY AS u(credit, amount, replay, i)
                 WHERE u.replay IS NULL) l
          JOIN accounts_account a ON a.id = l.account
    ) r WHERE r.delta < 0 AND r.kind IN ('customer', 'merchant') AND r.available < 0
      ORDER BY r.i LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT bad.i::integer, 'insufficient_funds'::text, NULL::bigint, ''::text;
        RETURN;
    END IF;

    -- 4. Ids in item order (sorted explicitly), then one INSERT and one UPDATE.
    SELECT count(*) INTO new_count FROM unnest(rep_ids) r WHERE r IS NULL;
    IF new_count > 0 THEN
        SELECT array_agg(COALESCE(u.replay, fresh.ids[u.rank]) ORDER BY u.i) INTO tids
          FROM (SELECT r.replay, r.i,
                       (count(*) FILTER (WHERE r.replay IS NULL) OVER (ORDER BY r.i))::integer AS rank
                  FROM unnest(rep_ids) WITH ORDINALITY AS r(replay, i)) u,
               (SELECT array_agg(v ORDER BY v) AS ids
                  FROM (SELECT nextval(pg_get_serial_sequence('accounts_transfer', 'id')) AS v
                          FROM generate_series(1, new_count)) s) fresh;

        INSERT INTO accounts_transfer (id, group_id, debit_account_id, credit_account_id,
            amount_minor, currency, code, source_type_id, source_id, initiator_id,
            idempotency_key, request_hash, memo, reverses_id, kzt_value_tiyn, created_at)
        SELECT u.tid, u.grp, u.debit, u.credit, u.amount, d.currency, u.code, u.stype,
               u.sid, u.initiator, u.key, u.hash, u.memo, NULL, u.kzt, p_now
          FROM unnest(tids, p_group, p_debit, p_credit, p_amount, p_code, p_source_type,
                      p_source_id, p_initiator, p_key, p_hash, p_memo, p_kzt, rep_ids)
               WITH ORDINALITY AS u(tid, grp, debit, credit, amount, code, stype, sid,
                                    initiator, key, hash, memo, kzt, replay, i)
          JOIN accounts_account d ON d.id = u.debit
         WHERE u.replay IS NULL
         ORDER BY u.i;

        UPDATE accounts_account a
           SET posted_minor = a.posted_minor + s.delta, version = a.version + s.moves
          FROM (SELECT l.account, sum(l.delta) AS delta, count(*)::integer AS moves
                  FROM (SELECT u.debit AS account, -u.amount AS delta
                          FROM unnest(p_debit, p_amount, rep_ids) AS u(debit, amount, replay)
                         WHERE u.replay IS NULL
                        UNION ALL
                        SELECT u.credit, u.amount
                          FROM unnest(p_credit, p_amount, rep_ids) AS u(credit, amount, replay)
                         WHERE u.replay IS NULL) l
                 GROUP BY l.account) s
         WHERE a.id = s.account;

        -- 5. The audit events, with the payload ledger_transfer builds, chained in item
        --    order. The text is spelled out as jsonb prints the object ledger_transfer
        --    builds (keys shortest first, then by bytes; ", " and ": "; strings through
        --    to_json): byte for byte the same, for half the cost of building two jsonb
        --    objects per event and printing one (tests/accounts/test_transfer_batch.py).
        SELECT array_agg(e.payload ORDER BY e.i), array_agg(e.tid ORDER BY e.i),
               array_agg(e.initiator ORDER BY e.i), array_agg(e.label ORDER BY e.i),
               array_agg(e.data::jsonb ORDER BY e.i)
          INTO payloads, ev_tid, ev_actor, ev_label, ev_data
          FROM (SELECT u.i, u.tid, u.initiator, u.label, x.data,
                       '{"data": ' || x.data || ', "action": "transfer.create", "actor_id": '
                       || coalesce(u.initiator::text, 'null') || ', "object_id": "' || u.tid
                       || '", "created_at": ' || created_json || ', "actor_label": '
                       || coalesce(to_json(u.label)::text, 'null')
                       || ', "object_type": "accounts.transfer", "client_address": '
                       || client_json || '}' AS payload
                  FROM unnest(tids, p_debit, p_credit, p_amount, p_code, p_group, p_initiator,
                              p_actor_label, rep_ids)
                       WITH ORDINALITY AS u(tid, debit, credit, amount, code, grp, initiator,
                                            label, replay, i)
                  JOIN accounts_account d ON d.id = u.debit
                 CROSS JOIN LATERAL (SELECT '{"code": ' || to_json(u.code)::text
                           || ', "debit": ' || u.debit || ', "credit": ' || u.credit
                           || ', "currency": ' || to_json(d.currency)::text
                           || ', "group_id": "' || u.grp || '", "amount_minor": ' || u.amount
                           || '}' AS data) x
                 WHERE u.replay IS NULL) e;

        -- The chain's one owner appends them (audit/sql.py), the last write here.
        PERFORM audit_append_many(p_now, ev_actor, ev_label, 'transfer.create',
            'accounts.transfer', ev_tid::text[], p_client, ev_data, payloads);
    ELSE
        tids := rep_ids;
    END IF;

    RETURN QUERY
        SELECT u.i::integer, CASE WHEN u.replay IS NULL THEN 'ok' ELSE 'replay' END,
               u.tid, d.currency::text
          FROM unnest(tids, rep_ids, p_debit) WITH ORDINALITY AS u(tid, replay, debit, i)
          LEFT JOIN accounts_account d ON d.id = u.debit
         ORDER BY u.i;
END;
$$;
"""
