"""Percentiles, one comparison of a measured figure with its floor, and a figure reported
without one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100) by the nearest-rank method; NaN for no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Ratio:
    """``measured / floor`` against a target: ``"<="`` for costs, ``">="`` for throughput."""

    name: str
    measured: float
    floor: float
    unit: str
    target: float
    direction: str  # "<=" or ">="
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.measured / self.floor if self.floor else float("inf")

    @property
    def passed(self) -> bool:
        if self.direction == "<=":
            return self.ratio <= self.target
        return self.ratio >= self.target

    def line(self) -> str:
        verdict = "PASS" if self.passed else "MISS"
        figures = f"{_fmt(self.measured)} vs {_fmt(self.floor)} {self.unit}"
        note = f"  ({self.note})" if self.note else ""
        return (f"{self.name:<44} {figures:<28} {self.ratio:6.2f}x  "
                f"target {self.direction}{self.target:g}x  {verdict}{note}")

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio, "passed": self.passed}


@dataclass
class Figure:
    """A figure the issue asks to be reported, with no floor or target to hold it to."""

    name: str
    value: float
    unit: str
    note: str = ""

    def line(self) -> str:
        note = f"  ({self.note})" if self.note else ""
        return f"{self.name:<44} {_fmt(self.value)} {self.unit:<22}  reported{note}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def not_measured(name: str, reason: str) -> str:
    return f"{name:<44} not measured: {reason}"
