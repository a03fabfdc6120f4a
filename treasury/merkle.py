"""The proof-of-reserves Merkle sum tree. Standard library only (the verifier imports it).

Format (docs/proof-of-reserves.md):

* leaf hash = SHA256(salt || account || 0x00 || u64be(balance)), where ``salt`` is the
  leaf's 16 random bytes, ``account`` the account number in UTF-8;
* node hash = SHA256(left.hash || right.hash || u64be(left.sum) || u64be(right.sum)),
  node sum = left.sum + right.sum;
* a level with an odd count is padded with the empty node (32 zero bytes, sum 0).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

SUM_MAX = 2**64 - 1
EMPTY_HASH = bytes(32)


@dataclass(frozen=True)
class Node:
    hash: bytes
    sum: int


def _u64(value: int) -> bytes:
    if not 0 <= value <= SUM_MAX:
        raise ValueError(f"sum out of range: {value}")
    return value.to_bytes(8, "big")


def leaf_hash(*, salt_hex: str, account: str, balance_sats: int) -> bytes:
    """Return the hash of one leaf."""
    salt = bytes.fromhex(salt_hex)
    if len(salt) != 16:
        raise ValueError("salt must be 16 bytes")
    return hashlib.sha256(salt + account.encode() + b"\x00" + _u64(balance_sats)).digest()


def parent(left: Node, right: Node) -> Node:
    """Return the node above two children."""
    digest = hashlib.sha256(left.hash + right.hash + _u64(left.sum) + _u64(right.sum)).digest()
    return Node(digest, left.sum + right.sum)


EMPTY = Node(EMPTY_HASH, 0)


def levels(leaves: list[Node]) -> list[list[Node]]:
    """Return every level of the tree, leaves first, root level last (one node)."""
    level = list(leaves) or [EMPTY]
    out = [level]
    while len(level) > 1:
        if len(level) % 2:
            level = [*level, EMPTY]
            out[-1] = level
        level = [parent(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        out.append(level)
    return out


def proof_path(tree: list[list[Node]], index: int) -> list[dict[str, Any]]:
    """Return the siblings from leaf ``index`` up to the root (side = the sibling's side)."""
    path = []
    for level in tree[:-1]:
        sibling = index ^ 1
        node = level[sibling]
        path.append({"side": "left" if sibling < index else "right",
                     "hash": node.hash.hex(), "sum": node.sum})  # fmt: skip
        index //= 2
    return path


def proof_verify(proof: dict[str, Any]) -> tuple[bool, str]:
    """Check an inclusion proof; return (ok, explanation)."""
    try:
        leaf = proof["leaf"]
        balance = int(leaf["balance_sats"])
        current = Node(leaf_hash(salt_hex=str(leaf["salt"]), account=str(leaf["account"]),
                                 balance_sats=balance), balance)  # fmt: skip
        for step in proof["path"]:
            sibling = Node(bytes.fromhex(str(step["hash"])), int(step["sum"]))
            if len(sibling.hash) != 32 or sibling.sum < 0:
                return False, "a sibling is malformed"
            if step["side"] == "left":
                current = parent(sibling, current)
            elif step["side"] == "right":
                current = parent(current, sibling)
            else:
                return False, "a sibling has no side"
        root_hash = str(proof["root"]["hash"])
        root_sum = int(proof["root"]["sum"])
        total = int(proof["total_sats"])
    except (KeyError, TypeError, ValueError) as exc:
        return False, f"malformed proof: {exc}"
    if current.hash.hex() != root_hash:
        return False, "the path does not lead to the published root hash"
    if current.sum != root_sum or root_sum != total:
        return False, "the sums do not add up to the published total"
    return True, f"included: balance {balance} sats in a total of {total} sats"
