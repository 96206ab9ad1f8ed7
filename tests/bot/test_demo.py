"""`apart-bot demo`: the shipped script, end to end, as a person would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def _run_demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("APART_", "TELEGRAM_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestDemo:
    def test_the_shipped_script_ends_with_yp_a1s_baseline_figures(self, tmp_path: Path) -> None:
        result = _run_demo(cwd=tmp_path)

        assert result.returncode == 0, result.stderr
        summary = result.stdout[result.stdout.rindex("Submitted.") :]
        assert "Risk 62.5 · High" in summary
        assert "Harm override applies" in summary
        assert "Resilience 18.2 · Low" in summary
        assert "Next review due: 12 April 2026." in summary
        assert (tmp_path / ".apart-demo" / "demo.db").exists()

    def test_a_script_that_goes_wrong_says_where_and_fails(self, tmp_path: Path) -> None:
        script = tmp_path / "inputs.txt"
        script.write_text("/new\n[No such button]\n", "utf-8")

        result = _run_demo("--script", str(script), cwd=tmp_path)

        assert result.returncode == 1
        assert "The script stopped at '[No such button]'" in result.stdout

    def test_it_runs_again_on_a_fresh_database(self, tmp_path: Path) -> None:
        """Each run starts afresh, so YP-A1 can be registered every time."""
        assert _run_demo(cwd=tmp_path).returncode == 0
        assert _run_demo(cwd=tmp_path).returncode == 0
