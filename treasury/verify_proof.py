"""Verify a proof-of-reserves inclusion proof: ``python -m treasury.verify_proof FILE``.

Standard library only, no database, no Django: a customer runs it on the JSON file
downloaded from web banking. Exit status 0 when the proof holds, 1 when it does not.
The format is described in docs/proof-of-reserves.md.
"""

from __future__ import annotations

import json
import sys

from treasury.merkle import proof_verify


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m treasury.verify_proof proof.json", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as handle:
            proof = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"cannot read {argv[0]}: {exc}", file=sys.stderr)
        return 2
    ok, why = proof_verify(proof)
    print(("OK: " if ok else "FAILED: ") + why)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
