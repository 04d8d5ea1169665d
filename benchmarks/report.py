"""``python -m benchmarks.report [FILE]``: the Markdown tables of a results file, for README.md."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .listing import SORTS
from .run import RESULTS
from .stats import percentile

# Ratios shown as filter x sort tables rather than one line each.
MATRICES = ("list ", "scale ", "admin list ", "admin scale ")


def _cell(ratio: dict[str, Any]) -> str:
    mark = "" if ratio["passed"] else " **MISS**"
    return f"{ratio['ratio']:.2f}x{mark}"


def _milliseconds(ratio: dict[str, Any]) -> str:
    mark = "" if ratio["passed"] else " **MISS**"
    return f"{ratio['measured']:.1f}{mark}"


def _filters(ratios: list[dict[str, Any]], prefix: str) -> list[str]:
    return list(dict.fromkeys(
        r["name"][len(prefix):].split(", sort ")[0] for r in ratios if r["name"].startswith(prefix)
    ))


def _table(filters: list[str], cell: Callable[[str, str], str]) -> list[str]:
    """Filters down, sorts across; ``cell(filter, sort)``."""
    lines = ["| filter | " + " | ".join(SORTS) + " |", "|---" * (len(SORTS) + 1) + "|"]
    for name in filters:
        lines.append(f"| {name} | " + " | ".join(cell(name, s) for s in SORTS) + " |")
    return lines


def _matrix(ratios: list[dict[str, Any]], prefix: str, suffix: str,
            cell: Callable[[dict[str, Any]], str] = _cell) -> list[str]:
    """The ratios named ``{prefix}{filter}, sort {s}: {suffix}``, one cell each."""
    by_name = {r["name"]: r for r in ratios}
    return _table(_filters(ratios, prefix),
                  lambda f, s: cell(by_name[f"{prefix}{f}, sort {s}: {suffix}"]))


def _suffixes(ratios: list[dict[str, Any]], prefix: str) -> list[str]:
    return list(dict.fromkeys(r["name"].split(": ")[1] for r in ratios
                              if r["name"].startswith(prefix)))


def _admin(result: dict[str, Any]) -> list[str]:
    ratios = result["ratios"]
    if not any(r["name"].startswith("admin list ") for r in ratios):
        return []
    sizes = result["plan"]["sizes"]
    at = f"{sizes[len(sizes) // 2]:,}"
    out: list[str] = []
    for q, target in (("p50", 20), ("p99", 50)):
        out += ["", f"Admin list page from memory, {at} visible tokens, {q} in ms "
                f"(target <= {target} ms):", ""]
        out += _matrix(ratios, "admin list ", q, _milliseconds)
    times = result["raw"]["admin_lists"]["times_ms"]
    samples = len(next(iter(times.values()))["database"])
    out += ["", f"The same pages from the database (`TOKENS_LIST_MEMORY_TOKENS=0`), the "
            f"\"before\": p50 in ms of {samples} sample(s):", ""]
    out += _table(_filters(ratios, "admin list "), lambda f, s: (
        f"{percentile(times[f'{f}, sort {s}']['database'], 50):.0f}"))
    for scale in _suffixes(ratios, "admin scale "):
        out += ["", f"Admin page p50 with {scale.replace(' p50', '')} visible tokens "
                "(target <= 1.3x):", ""]
        out += _matrix(ratios, "admin scale ", scale)
    return out


def markdown(result: dict[str, Any]) -> str:
    ratios = result["ratios"]
    single = [r for r in ratios if not r["name"].startswith(MATRICES)]
    out = ["| measure | service | floor | ratio | target | |", "|---|---|---|---|---|---|"]
    for r in single:
        verdict = "PASS" if r["passed"] else "**MISS**"
        out.append(f"| {r['name']} | {r['measured']:.1f} {r['unit']} | {r['floor']:.1f} "
                   f"{r['unit']} | {r['ratio']:.2f}x | {r['direction']} {r['target']:g}x "
                   f"| {verdict} |")
    figures = result.get("figures", [])
    if figures:
        out += ["", "Reported (no target):", "", "| figure | value | |", "|---|---|---|"]
        for f in figures:
            out.append(f"| {f['name']} | {f['value']:.2f} {f['unit']} | {f['note']} |")
    for q in ("p50", "p99"):
        out += ["", f"List page (a caller who sees {result['plan']['visible']:,} tokens), "
                f"service {q} / raw aggregation {q} (target <= 1.25x):", ""]
        out += _matrix(ratios, "list ", q)
    for scale in _suffixes(ratios, "scale "):
        out += ["", f"Scaling, page p50 with {scale.replace(' p50', '')} tokens in the "
                "collection (target <= 1.3x):", ""]
        out += _matrix(ratios, "scale ", scale)
    out += _admin(result)
    return "\n".join(out) + "\n"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "latest.json"
    print(markdown(json.loads(path.read_text())), end="")


if __name__ == "__main__":
    main()
