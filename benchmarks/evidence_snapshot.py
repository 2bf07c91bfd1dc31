"""Storing a run's evidence snapshot: time and memory for 10k and 100k records.

    python benchmarks/evidence_snapshot.py                 # 10k and 100k records
    python benchmarks/evidence_snapshot.py --rows 50000

For each size, in a fresh interpreter (so peak RSS belongs to that size alone), the records
are built as a run holds them after reading its sources, then, side by side:

- digest: ``evidence_digest`` over every record (the snapshot's id);
- store: ``Repository.store_evidence`` into a new SQLite file (inserts streamed in chunks);
- again: the same call once stored (one indexed look-up: what every later run pays);
- attach: ``Repository.attach_evidence`` of a running run (the per-run link);
- page: the first and the last page of ``list_run_evidence`` (200 records, cursor-paged).

Peak RSS before storing (records in memory) and after show what storing adds. Figures are
printed, never asserted. Target: memory added by storing stays far below the records'
own footprint (no second copy of the evidence), and 100k records store in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_provider import synthetic_evidence


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(rows: int) -> dict[str, float]:
    from persona.schemas import ResolvedConfig
    from persona.sources.digest import evidence_digest
    from persona.storage import Database, Repository

    evidence = synthetic_evidence(rows)
    held = _peak_mib()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'persona.db'}")
        db.migrate()
        repo = Repository(db)
        config = ResolvedConfig(provider="local", persona_count=3)
        repo.create_experiment(
            experiment_id="exp-bench",
            name="bench",
            description=None,
            data_sources=["interviews.csv"],
            config=config,
        )
        run, _ = repo.create_run("exp-bench", config)
        claimed = repo.claim_run(run.id)
        assert claimed is not None
        figures: dict[str, float] = {"rows": rows, "held_mib": held}
        started = time.perf_counter()
        set_id = evidence_digest(evidence)  # type: ignore[arg-type]
        figures["digest_s"] = time.perf_counter() - started
        started = time.perf_counter()
        repo.store_evidence(set_id, evidence)  # type: ignore[arg-type]
        figures["store_s"] = time.perf_counter() - started
        started = time.perf_counter()
        repo.store_evidence(set_id, evidence)  # type: ignore[arg-type]
        figures["again_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        repo.attach_evidence(run.id, claimed.attempt, set_id, evidence)  # type: ignore[arg-type]
        figures["attach_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        page = repo.list_run_evidence("exp-bench", run.id, limit=200)
        figures["first_page_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        while page.next_cursor is not None:
            page = repo.list_run_evidence("exp-bench", run.id, limit=200, cursor=page.next_cursor)
        figures["all_pages_s"] = time.perf_counter() - started
        figures["db_mib"] = (Path(folder) / "persona.db").stat().st_size / 2**20
        db.dispose()
    figures["peak_mib"] = _peak_mib()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="sizes (default 10k, 100k)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    print(
        f"{'records':>8} {'digest':>8} {'store':>8} {'again':>8} {'attach':>8} "
        f"{'page 1':>8} {'all pages':>10} {'held':>9} {'peak':>9} {'added':>8} {'db':>8}"
    )
    for rows in args.rows or [10_000, 100_000]:
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(rows)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ},
        ).stdout
        f = json.loads(output)
        print(
            f"{rows:>8} {f['digest_s']:>7.2f}s {f['store_s']:>7.2f}s {f['again_ms']:>6.1f}ms "
            f"{f['attach_ms']:>6.1f}ms {f['first_page_ms']:>6.1f}ms {f['all_pages_s']:>9.2f}s "
            f"{f['held_mib']:>6.0f}MiB {f['peak_mib']:>6.0f}MiB "
            f"{f['peak_mib'] - f['held_mib']:>5.0f}MiB {f['db_mib']:>5.0f}MiB"
        )


if __name__ == "__main__":
    main()
