"""Instructions per answer, cold and warm, counted by valgrind's callgrind: unlike times, instruction
counts do not change when other programs share the machine, so their ratios compare reliably.

Each count runs this file (``python bench/instructions.py CASE MODE N``) under callgrind: the engine warms up on the
case and on another expression (first use of every code path), then answers the case N more times,
cold (every cache an expression fills is cleared first) or warm. Per answer: (count(N) − count(0)) / N.
``--baseline REF`` counts a git revision's engine the same way (its tree exported to a temporary folder
and run first on the path), for before/after comparisons on a busy machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _main(case: str, mode: str, n: int) -> None:
    from bench.cases import CASES
    from tutor.engine import answer

    try:
        from bench.engine import clear_caches
    except ImportError:  # an older revision's name for it
        from bench.engine import _clear_caches as clear_caches

    question = CASES[case]
    answer(question)
    answer(CASES["circuit"])
    for _ in range(n):
        if mode == "cold":
            clear_caches()
        answer(question)


def count(case: str, mode: str, n: int, root: Path = ROOT) -> int:
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "callgrind.out"
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={output}",
                sys.executable,
                __file__,
                case,
                mode,
                str(n),
            ],
            env=dict(os.environ, PYTHONPATH=str(root)),
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def per_answer(case: str, n: int = 3, root: Path = ROOT) -> dict[str, float]:
    base = count(case, "warm", 0, root)
    return {mode: (count(case, mode, n, root) - base) / n for mode in ("cold", "warm")}


def run(cases: tuple[str, ...] = ("neuron", "network"), baseline: str | None = None) -> dict:
    results: dict = {"current": {case: per_answer(case) for case in cases}}
    if baseline:
        with tempfile.TemporaryDirectory() as folder:
            archive = subprocess.run(["git", "archive", baseline], cwd=ROOT, capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
            results[baseline] = {case: per_answer(case, root=Path(folder)) for case in cases}
    return results


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
