"""``python -m benchmarks.report [FILE]``: the Markdown tables of a results file, for README.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .listing import SORTS
from .run import RESULTS


def _cell(ratio: dict[str, Any]) -> str:
    mark = "" if ratio["passed"] else " **MISS**"
    return f"{ratio['ratio']:.2f}x{mark}"


def _matrix(ratios: list[dict[str, Any]], prefix: str, suffix: str) -> list[str]:
    """Filters down, sorts across, for the ratios named ``{prefix}{filter}, sort {s}: {suffix}``."""
    by_name = {r["name"]: r for r in ratios}
    filters = list(dict.fromkeys(
        r["name"][len(prefix):].split(", sort ")[0] for r in ratios if r["name"].startswith(prefix)
    ))
    lines = ["| filter | " + " | ".join(SORTS) + " |", "|---" * (len(SORTS) + 1) + "|"]
    for name in filters:
        cells = [_cell(by_name[f"{prefix}{name}, sort {s}: {suffix}"]) for s in SORTS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    ratios = result["ratios"]
    single = [r for r in ratios if not r["name"].startswith(("list ", "scale "))]
    out = ["| measure | service | floor | ratio | target | |", "|---|---|---|---|---|---|"]
    for r in single:
        verdict = "PASS" if r["passed"] else "**MISS**"
        out.append(f"| {r['name']} | {r['measured']:.1f} {r['unit']} | {r['floor']:.1f} "
                   f"{r['unit']} | {r['ratio']:.2f}x | {r['direction']} {r['target']:g}x "
                   f"| {verdict} |")
    scale_names = [r["name"] for r in ratios if r["name"].startswith("scale ")]
    scales = list(dict.fromkeys(n.split(": ")[1] for n in scale_names))
    for q in ("p50", "p99"):
        out += ["", f"List page, service {q} / raw aggregation {q} (target <= 1.25x):", ""]
        out += _matrix(ratios, "list ", q)
    for scale in scales:
        out += ["", f"Scaling, page p50 with {scale.replace(' p50', '')} tokens in the "
                "collection (target <= 1.3x):", ""]
        out += _matrix(ratios, "scale ", scale)
    return "\n".join(out) + "\n"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "latest.json"
    print(markdown(json.loads(path.read_text())), end="")


if __name__ == "__main__":
    main()
