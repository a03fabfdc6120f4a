"""Keep a sample of a cosmic-ray session's pending mutants; mark the rest skipped.

``python scripts/mutation_sample.py SESSION.sqlite COUNT [SEED]``: one mutant per source
line first (chosen at random, so every line with a mutant is tried before any line twice),
then more at random, up to COUNT. The report then counts the others as skipped, so a
sampled run says exactly how many of how many mutants ran.
"""

from __future__ import annotations

import random
import sqlite3
import sys


def main(path: str, count: int, seed: int) -> None:
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    pending = db.execute(
        "SELECT s.job_id, s.start_pos_row FROM mutation_specs s"
        " LEFT JOIN work_results r ON r.job_id = s.job_id WHERE r.job_id IS NULL"
    ).fetchall()
    by_line: dict[int, list[str]] = {}
    for job_id, row in pending:
        by_line.setdefault(row, []).append(job_id)
    for jobs in by_line.values():
        rng.shuffle(jobs)
    chosen: list[str] = []
    rounds = max((len(jobs) for jobs in by_line.values()), default=0)
    for i in range(rounds):
        layer = [jobs[i] for jobs in by_line.values() if i < len(jobs)]
        rng.shuffle(layer)
        chosen.extend(layer)
    keep = set(chosen[:count])
    skipped = [(job_id,) for job_id, _ in pending if job_id not in keep]
    db.executemany(
        "INSERT INTO work_results (job_id, worker_outcome, output, test_outcome, diff)"
        " VALUES (?, 'SKIPPED', 'not in the sample', NULL, NULL)",
        skipped,
    )
    db.commit()
    print(f"sample: {len(keep)} of {len(pending)} pending mutants will run (seed {seed})")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)
