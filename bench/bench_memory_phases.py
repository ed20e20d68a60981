"""Peak anonymous memory of ``relabel denoise`` per step of the scoring and write stages (issue 19).

Usage: python bench/bench_scale.py --rows 2000000 --topic-rows 1000 --work DIR   # makes the data
       python bench/bench_memory_phases.py DIR/rows2000000-d384-c50-t1000 [--out RUN]

Runs ``relabel denoise DATA/data.csv --embeddings DATA/emb.npy --corrector none`` in this
process, with a thread that reads ``RssAnon`` from ``/proc/self/status`` every 20 ms. The
pipeline's stages and the decision step's functions are wrapped so that each sample is charged
to the step that is running; the table lists each step's peak in MB, in the order the steps ran
(``name~`` is the caller again after ``name`` returned). Linux only.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: (module, function) pairs whose running time is charged to their own row
STEPS = [
    ("relabel.pipeline", ["read_stage", "precomputed_stage", "score_stage", "write_stage",
                          "scores_frame", "write_table", "write_report_csv", "examples_frame",
                          "suspicious_frame", "summary_counts", "write_array"]),
    ("relabel.detect.score", ["build_knn_graph", "soft_labels", "decide"]),
    ("relabel.detect.decide", ["decide_labels", "duplicate_groups", "outliers",
                               "duplicate_conflicts"]),
    ("relabel.report.html", ["build_report"]),
]


def anon_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    import importlib

    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path, help="a bench_scale.py data directory")
    ap.add_argument("--out", type=Path, default=None, help="run directory (default: temporary)")
    args = ap.parse_args()
    phase = ["start"]
    peaks: dict[str, int] = {}

    def sample() -> None:
        while True:
            peaks[phase[0]] = max(peaks.get(phase[0], 0), anon_mb())
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    for module, names in STEPS:
        mod = importlib.import_module(module)
        for name in names:
            fn = getattr(mod, name)

            @functools.wraps(fn)
            def charged(*a, _fn=fn, _name=name, **k):
                before = phase[0]
                phase[0] = f"{_name}#{len(peaks)}"
                try:
                    return _fn(*a, **k)
                finally:
                    phase[0] = before + "~"

            setattr(mod, name, charged)
    from relabel.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "run"
        sys.argv = ["relabel", "denoise", str(args.data / "data.csv"), "--id-col", "id",
                    "--embeddings", str(args.data / "emb.npy"), "--corrector", "none",
                    "--out", str(out), "--quiet"]
        try:
            cli()
        except SystemExit as exc:
            if exc.code:
                raise
        time.sleep(0.1)
    print("| step | peak anonymous MB |\n|---|---|")
    for name, mb in peaks.items():
        print(f"| {name} | {mb} |")


if __name__ == "__main__":
    main()
