"""``python -m benchmarks [--quick]``: the service against its floors; see README.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from .run import main

parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
parser.add_argument("--quick", action="store_true", help="small data, short runs (~1 minute)")
parser.add_argument("--in-process", action="store_true",
                    help="run the apps in the load generator's process (to compare)")
parser.add_argument("--output", type=Path, help="where to write the raw figures "
                    "[benchmarks/results/latest.json]")
parser.add_argument("--writes", action="store_true",
                    help="only the figures of writes: create, history, bulk (on the smallest data)")
args = parser.parse_args()
raise SystemExit(main(args.quick, args.in_process, args.output, args.writes))
