"""Wall time of ``denoise --corrector head`` on 10k rows against encoding alone, in one run.

Usage: python bench/bench_speed.py [--rows 10003] [--corrector head] [--no-words]
       [--precision auto]

Writes banking77 train (20% uniform noise) to a temporary CSV, runs ``denoise`` from scratch
(empty output directory, so the encoder runs) and prints the seconds per stage, the total and
total / encode. Target (issue 3): total <= 1.5 x encode on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.devdata import load
from relabel.config import DenoiseConfig
from relabel.pipeline import denoise


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=None, help="first N rows (default: all)")
    ap.add_argument("--corrector", default="head")
    ap.add_argument("--no-words", action="store_true",
                    help="the linear corrector without the word model (denoise --no-words)")
    ap.add_argument("--precision", default="auto", help="the encoder's (denoise --precision)")
    args = ap.parse_args()
    df = load("banking77").select("id", "text", "label")
    if args.rows:
        df = df.head(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "banking77.csv"
        df.write_csv(data)
        t0 = time.perf_counter()
        res = denoise(data, out_dir=Path(tmp) / "out",
                      config=DenoiseConfig(id_col="id", corrector=args.corrector,
                                           words=not args.no_words,
                                           precision=args.precision))
        total = time.perf_counter() - t0
    secs = res.summary["seconds"]
    inner = res.summary["params"].get("seconds", {})
    words = bool(res.summary["corrector"].get("words", {}).get("used"))
    print(json.dumps({"rows": df.height, "corrector": res.summary["corrector"]["name"],
                      "precision": args.precision, "words": words,
                      "seconds": secs, "scoring": inner, "total": round(total, 1),
                      "total_over_encode": round(total / secs["encode"], 2)}))


if __name__ == "__main__":
    main()
