"""Every benchmark runs once in smoke mode (a few seconds, ``PUSHLOG_BENCH_SMOKE=1`` and ``--smoke``;
``--quick`` too, for a benchmark that only knows that), exits 0 and prints its ratios, so a benchmark
broken by a change fails the suite instead of ``make bench``.

Benchmarks are discovered (``benchmarks/bench_*.py``): a new one is covered without editing this file.
A ratio is a figure like ``1.23x`` (``benchmarks/_common.ratio_line`` prints them beside the target).
The numbers of a smoke run mean nothing and nothing here looks at them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("bench_*.py"))
RATIO = re.compile(r"\d\.\d+ ?x\b")


def test_the_benchmarks_are_found() -> None:
    assert len(BENCHMARKS) >= 4, BENCHMARKS


@pytest.mark.timeout(180)
@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.stem)
def test_benchmark_runs_in_smoke_mode_and_prints_its_ratios(script: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script), "--smoke", "--quick"],
        cwd=tmp_path,  # a benchmark must not depend on the working directory
        env={**os.environ, "PUSHLOG_BENCH_SMOKE": "1", "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=170,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert RATIO.search(result.stdout), f"no ratio line in the output of {script.name}:\n{output[-4000:]}"
    assert "Traceback" not in output, output[-4000:]


def test_every_committed_figures_file_can_be_drawn(tmp_path: Path) -> None:
    """benchmarks/plot.py draws each docs/performance/<name>.json a benchmark wrote (into a tmp dir
    here): a benchmark that changes its figures' shape must change its plot too."""
    plot = BENCHMARKS[0].parent / "plot.py"
    figures = sorted(p.stem for p in (plot.parents[1] / "docs" / "performance").glob("*.json"))
    result = subprocess.run(
        [sys.executable, str(plot), "--out", str(tmp_path)], capture_output=True, text=True, timeout=170
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert figures and sorted(p.stem for p in tmp_path.glob("*.png")) == figures, result.stdout
