"""The benchmarks still run and print their figures (at toy scale: the real runs are in the README)."""

import json
import subprocess
import sys

import pytest
from django.db import connection

from tests.platform.processes import PROJECT_ROOT, child_environment


def run_benchmark(script: str, *args: str, tmp_path) -> tuple[str, dict]:
    output = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args, "--json", str(output)],
        cwd=PROJECT_ROOT,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads(output.read_text())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the ingestion benchmark measures PostgreSQL (COPY)")
def test_ingest_benchmark_prints_its_table(tmp_path):
    stdout, figures = run_benchmark("ingest.py", "--events", "600", "--workers", "2", tmp_path=tmp_path)
    assert "raw COPY into a scratch table (baseline)" in stdout and "end to end" in stdout
    assert figures["events"] == 600 and figures["statuses"] == {"processed": 600}
    assert figures["end_to_end_events_per_second"] > 0


def test_identity_benchmark_prints_its_table(tmp_path):
    stdout, figures = run_benchmark("identity.py", "--records", "400", tmp_path=tmp_path)
    assert "exact keys only (baseline)" in stdout
    assert figures["records"] == 400 and figures["report"]["read"] == 400
    assert figures["resolver_precision"] > figures["exact_keys_precision"]
