"""The benchmark's machinery, so it cannot rot between the lead's full runs: `python -m bench
--quick` starts the mesh on its own PostgreSQL (or SQLite) and nats-server, measures the floor,
a 1×3 copy and two sustained-load steps, and writes its JSON and both plots. The figures
themselves are not judged here (speed belongs in bench/)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_quick_bench_runs_end_to_end_and_writes_figures_and_plots(tmp_path):
    out = tmp_path / "results"
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((out / "latest.json").read_text())
    assert set(results["floor"]) >= {"nats_jetstream_round_trip_ms", "grpc_round_trip_ms", "db_commit_ms",
                                     "ccxt_order_round_trip_ms", "one_copy_floor_ms"}
    (one,) = results["latency"]
    assert one["orders"] == one["fills"] * one["followers"] == 15  # every copy of every fill arrived
    assert [s["offered_fills_per_s"] for s in results["sustained"]["steps"]]
    assert results["floor"]["direct_fanout_ms"]["3"]["orders"] == 3  # the fan-out floor, beside the mesh's 1×3
    assert [r["replicas"] for r in results["replicas"]] == [1, 2]
    assert results["replicas"][1]["orders"] == results["replicas"][1]["fills"] * 3
    assert results["burst"]["orders"] == results["burst"]["expected"] == 15, results["burst"]
    assert results["platform_cpu_ms_per_copy"] > 0
    for plot in ("latency_histogram.png", "throughput.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "p50/floor" in run.stdout
