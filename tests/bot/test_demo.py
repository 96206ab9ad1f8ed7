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


class TestConversation:
    async def test_numbers_tap_buttons_and_charts_are_saved_as_they_come(
        self, tmp_path: Path
    ) -> None:
        """At the keyboard: a number taps, /cancel says Paused once, a chart lands on disk."""
        import io

        from bot.config import load_settings
        from bot.demo import run_demo, shipped_script

        out = io.StringIO()
        typed = io.StringIO("/assess\n1\n2\n/cancel\n/progress YP-A1\n99\n/quit\n")
        settings = load_settings(APART_DB_PATH=tmp_path / "demo.db")

        status = await run_demo(
            settings, script=shipped_script(), interactive=True, out=out, stdin=typed
        )

        said = out.getvalue()
        turn = said[said.index("Your turn.") :]
        assert status == 0
        assert "Which assessment is this?" in turn
        assert "When was this assessment done?" in turn
        assert turn.count("Paused.") == 1
        assert "There is no button 99" in turn
        charts = sorted(p.name for p in tmp_path.glob("*.png"))  # noqa: ASYNC240 (test, after the loop's work)
        assert len(charts) == 1
        assert "YP-A1-progress" in charts[0]
        assert f"(chart saved to {tmp_path / charts[0]})" in turn
