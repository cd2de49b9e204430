"""The benchmark's machinery on a tiny load: every process starts, every scenario runs, the table prints.

No timing is asserted: on a shared machine a number proves nothing, and the
full run (python -m tests.perf.bench) is where numbers come from.
"""

import argparse
import subprocess
import sys

from tests.perf import bench
from tests.perf.driver import _percentile


def test_runs_every_scenario_against_every_server_and_ingests(pg_server_url, tmp_path):
    args = argparse.Namespace(http="h11", loop="asyncio", dimensions=64, profile=None)
    report = bench.run(bench.PLANS["smoke"], args, tmp_path, database=pg_server_url)
    measured = {(result["system"], result["scenario"]) for result in report["results"]}
    scenarios = {scenario.name for scenario in bench.scenarios(bench.PLANS["smoke"])}
    server_path = {("bookbot-qdrant", name) for name in bench.SERVER_PATH}
    assert measured == {(system, name) for system in ("bookbot", "fastapi") for name in scenarios} | server_path | {("floor", "floor")}
    for result in report["results"]:
        # answered, in the window or after it (a busy machine may take longer than the window to answer)
        assert any(status.startswith("2") for round_ in result["rounds"] for status in round_["statuses"]), result
        assert result["errors"] == 0, result
        assert result["peak_rss_mb"] > 0 and result["cpu_ms_per_request"] is not None
    stream = next(r for r in report["results"] if (r["system"], r["scenario"]) == ("bookbot", "stream"))
    assert stream["first_event_p50_ms"] is not None
    assert report["answer_log"]["answers_logged"] > 0
    assert report["ingestion"]["chunks"] == 60 and report["ingestion"]["rerun_seconds"] >= 0
    assert report["ingestion"]["peak_rss_mb"] > 0 and report["ingestion"]["rerun_peak_rss_mb"] > 0
    text = bench.table(report)
    print("\n" + text)
    assert "POST /v1/query, cache hit" in text and "bare ASGI" in text and "ingestion: 60 chunks" in text
    assert "answer log (PostgreSQL)" in text


def test_reads_percentiles_by_nearest_rank():
    values = [index / 1000 for index in range(1, 101)]  # 1 ms to 100 ms
    assert _percentile(values, 50) == 50.0 and _percentile(values, 99) == 99.0 and _percentile([], 50) is None


def test_calls_says_where_a_querys_cpu_goes():
    done = subprocess.run([sys.executable, "-m", "tests.perf.calls", "--calls", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.strip().endswith(" ms")]
    assert len(lines) == 7 and any("a whole miss" in line for line in lines) and "cache hit" in lines[-1]
