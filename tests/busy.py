"""A machine as busy as the one that found a lost acknowledged write: one spinning process per
core, started and stopped by the test that needs it. Fault and race tests must hold under load,
where the timing between processes is not what a quiet machine shows."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def busy_cores(count: int | None = None) -> Iterator[None]:
    """``count`` processes (one per core by default) that spin until the block ends."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(count or os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()
