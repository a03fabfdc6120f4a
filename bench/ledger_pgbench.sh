#!/usr/bin/env bash
# The ledger's SQL core alone (ledger_transfer, migration accounts/0005), driven by pgbench:
# the "pure PL/pgSQL ledger" baseline for bench/ledger.py. Run bench.ledger first (it
# creates and fills the alatau_bench database), then:  bash bench/ledger_pgbench.sh
set -euo pipefail
DB=${DB:-alatau_bench}
PGARGS=(-h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}")
read -r lo hi < <(psql "${PGARGS[@]}" -Atc \
  "select min(id), max(id) from accounts_account where kind='customer'" -F' ' "$DB")
hot=$(psql "${PGARGS[@]}" -Atc "select min(id) from accounts_account where kind='merchant'" "$DB")
caps='{"BTC": 2100000000000000, "KZT": 1000000000000000}'
call() { echo "SELECT * FROM ledger_transfer(:d, $1, 1, 'internal', NULL, 'pg-' || :client_id || '-' || random(), '', '', gen_random_uuid(), NULL, '', false, NULL, NULL, 'system', now(), '$caps'::jsonb);"; }
tmp=$(mktemp -d)
printf '\\set d random(%s, %s)\n\\set c random(%s, %s)\n%s\n' "$lo" "$hi" "$lo" "$hi" "$(call :c)" > "$tmp/uniform.sql"
printf '\\set d random(%s, %s)\n\\set c random(%s, %s)\n%s\n' "$lo" "$hi" "$hot" "$((hot + 9))" "$(call :c)" > "$tmp/hot10.sql"
printf '\\set d random(%s, %s)\n%s\n' "$lo" "$hi" "$(call "$hot")" > "$tmp/hot.sql"
for workload in uniform hot10 hot; do
  printf '%-8s ' "$workload"
  pgbench "${PGARGS[@]}" -n -f "$tmp/$workload.sql" -c 4 -j 2 -T "${SECONDS_PER_RUN:-15}" "$DB" 2>/dev/null \
    | awk '/latency average/ {lat=$4} /^tps/ {tps=$3} END {printf "rate=%.0f/s latency_avg=%sms\n", tps, lat}'
done
rm -rf "$tmp"
