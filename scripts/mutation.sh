#!/bin/bash
# Mutation check (on demand: `make mutation`; never in CI). For each module, cosmic-ray
# changes one thing at a time (a comparison, a constant, a boolean...), runs the tests
# that guard the module and records whether they failed ("killed") or not ("survived").
# Survivors are listed in var/mutation/<module>.txt; docs/testing.md says what they mean.
#
# cosmic-ray edits the module on disk and restores it after each run: commit first, and
# if the run is interrupted, `git checkout -- <module>` puts it back.
# MUTATION_SAMPLE=N runs N of the mutants (one per line first; scripts/mutation_sample.py)
# and marks the rest skipped, for modules whose tests need the node and take minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=var/mutation
mkdir -p "$out"

tests_for() {
    case "$1" in
        accounts/services/posting.py|accounts/services/holds.py) echo "tests/accounts/test_ledger.py tests/accounts/test_posting.py" ;;
        custody/services/batches.py) echo "tests/custody/test_batches.py" ;;
        compliance/services/screening.py) echo "tests/compliance/test_withdrawal_screening.py tests/compliance/test_limits_travel.py tests/compliance/test_custody_hook.py tests/compliance/test_rules.py" ;;
        *) echo "no tests are mapped to $1 in scripts/mutation.sh" >&2; exit 2 ;;
    esac
}

for module in "$@"; do
    if ! git diff --quiet -- "$module"; then
        echo "$module has uncommitted changes: commit them first (cosmic-ray edits it)" >&2
        exit 2
    fi
    name=$(basename "$module" .py)
    config="$out/$name.toml"
    sed -e "s|^module-path = .*|module-path = \"$module\"|" \
        -e "s|^test-command = .*|test-command = \"python -m pytest -x -q -p no:cacheprovider --reuse-db $(tests_for "$module")\"|" \
        mutation.toml > "$config"
    rm -f "$out/$name.sqlite"
    cosmic-ray init "$config" "$out/$name.sqlite"
    cr-filter-operators "$out/$name.sqlite" "$config"
    if [ -n "${MUTATION_SAMPLE:-}" ]; then  # a sample only, e.g. a node-bound module
        python scripts/mutation_sample.py "$out/$name.sqlite" "$MUTATION_SAMPLE"
    fi
    cosmic-ray exec "$config" "$out/$name.sqlite"
    git diff --quiet -- "$module" || { echo "$module was left mutated" >&2; exit 1; }
    cr-report "$out/$name.sqlite" > "$out/$name.txt"
    tail -3 "$out/$name.txt"
done
