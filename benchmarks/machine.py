"""The machine a run happened on, for the report."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def describe() -> dict[str, object]:
    memory = _first("/proc/meminfo", "MemTotal")
    return {
        "cores": os.cpu_count(),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "memory_gib": round(int(memory.split()[0]) / 2**20, 1) if memory[0].isdigit() else None,
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average": os.getloadavg(),
    }
