"""The one append to the audit chain, as a PL/pgSQL function both paths call.

``audit_append`` advances the single head row (its lock orders every writer) and
inserts the event with ``hash = sha256(prev_hash || payload)``. The Python path
(``audit.chain.audit_record``) and the ledger's SQL posting function
(``accounts.ledger_sql``) both call it, so the chain has one definition. Callers
append last in their transaction: the head row's lock is then held only until commit.
"""

AUDIT_APPEND_SQL = r"""
CREATE OR REPLACE FUNCTION audit_append(
    p_created_at timestamptz, p_actor_id bigint, p_actor_label text, p_action text,
    p_object_type text, p_object_id text, p_client inet, p_data jsonb, p_payload text
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_seq bigint;
BEGIN
    WITH head AS (
        UPDATE compliance_auditchainhead
           SET prev_hash = last_hash,
               last_hash = sha256(last_hash || convert_to(p_payload, 'UTF8')),
               seq = seq + 1
         WHERE id = 1
     RETURNING seq, prev_hash, last_hash
    )
    INSERT INTO compliance_auditevent (seq, created_at, actor_id, actor_label, action,
        object_type, object_id, client_address, data, payload, prev_hash, hash)
    SELECT head.seq, p_created_at, p_actor_id, p_actor_label, p_action, p_object_type,
           p_object_id, p_client, p_data, p_payload, head.prev_hash, head.last_hash
      FROM head
    RETURNING seq INTO new_seq;
    IF new_seq IS NULL THEN
        RAISE EXCEPTION 'audit chain head row is missing (run migrations)';
    END IF;
    RETURN new_seq;
END;
$$;
"""

# The same append for many events at once (the ledger's batch posting): one lock of the
# head, the hashes chained in order, one INSERT. Same chain, same rules as audit_append.
AUDIT_APPEND_MANY_SQL = r"""
CREATE OR REPLACE FUNCTION audit_append_many(
    p_created_at timestamptz, p_actor_ids bigint[], p_actor_labels text[], p_action text,
    p_object_type text, p_object_ids text[], p_client inet, p_datas jsonb[], p_payloads text[]
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(array_length(p_payloads, 1), 0);
    head_seq bigint;
    h bytea;
    prevs bytea[];
    hashes bytea[];
BEGIN
    IF n = 0 THEN RETURN NULL; END IF;
    SELECT seq, last_hash INTO head_seq, h FROM compliance_auditchainhead WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN RAISE EXCEPTION 'audit chain head row is missing (run migrations)'; END IF;
    prevs := array_fill(NULL::bytea, ARRAY[n]);
    hashes := array_fill(NULL::bytea, ARRAY[n]);
    FOR k IN 1 .. n LOOP
        prevs[k] := h;
        h := sha256(h || convert_to(p_payloads[k], 'UTF8'));
        hashes[k] := h;
    END LOOP;
    INSERT INTO compliance_auditevent (seq, created_at, actor_id, actor_label, action,
        object_type, object_id, client_address, data, payload, prev_hash, hash)
    SELECT head_seq + e.k, p_created_at, e.actor, e.label, p_action, p_object_type,
           e.oid, p_client, e.data, e.payload, e.prev, e.hash
      FROM unnest(p_actor_ids, p_actor_labels, p_object_ids, p_datas, p_payloads, prevs, hashes)
           WITH ORDINALITY AS e(actor, label, oid, data, payload, prev, hash, k);
    UPDATE compliance_auditchainhead
       SET seq = head_seq + n, prev_hash = prevs[n], last_hash = h
     WHERE id = 1;
    RETURN head_seq + n;
END;
$$;
"""

AUDIT_APPEND_MANY_DROP_SQL = (
    "DROP FUNCTION IF EXISTS audit_append_many(timestamptz, bigint[], text[], text, text,"
    " text[], inet, jsonb[], text[])"
)

AUDIT_APPEND_DROP_SQL = (
    "DROP FUNCTION IF EXISTS audit_append(timestamptz, bigint, text, text, text, text, inet,"
    " jsonb, text)"
)
