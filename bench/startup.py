"""Figure 6: start-up of the command line, each run a fresh process as a person would start it.

`apart-bot --help` must not import the bot's heavy libraries; the demo is timed from the
start of the process to its first prompt (the bot's first message with buttons, the answer
to the scripted /new) on a fresh database, and then stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import Figure, median

if TYPE_CHECKING:
    from collections.abc import Sequence

HEAVY = ("matplotlib", "telegram", "aiosqlite", "pydantic", "openpyxl", "numpy", "sqlcipher3")
PROMPT = b"\n[1] "
DEMO_LIMIT_S = 60.0


def _command() -> list[str]:
    """The installed `apart-bot` beside this interpreter."""
    return [str(Path(sys.executable).with_name("apart-bot"))]


def _environment() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("APART_", "TELEGRAM_"))}
    return {**keep, "PTB_TIMEDELTA": "true"}


def time_help() -> float:
    """Seconds for `apart-bot --help` to finish."""
    started = time.perf_counter()
    subprocess.run(
        [*_command(), "--help"], check=True, capture_output=True, env=_environment(), timeout=30
    )
    return time.perf_counter() - started


def time_demo(workdir: Path, run: int) -> float:
    """Seconds from starting `apart-bot demo` to its first prompt."""
    db_path = workdir / f"demo-{run}.db"
    started = time.perf_counter()
    with subprocess.Popen(
        [*_command(), "demo", "--db", str(db_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_environment(),
        cwd=workdir,
    ) as process:
        assert process.stdout is not None
        seen = b""
        while PROMPT not in seen:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk or time.perf_counter() - started > DEMO_LIMIT_S:
                process.kill()
                raise RuntimeError(f"the demo never showed its prompt: {seen[-200:]!r}")
            seen += chunk
        elapsed = time.perf_counter() - started
        process.terminate()
        process.wait(timeout=30)
    return elapsed


def heavy_imports(argv: Sequence[str]) -> list[str]:
    """The heavy top-level packages a command imports, read from `python -X importtime`."""
    script = "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script, *argv],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=30,
    )
    found = set()
    for line in result.stderr.splitlines():
        name = line.rsplit("|", 1)[-1].strip()
        if name.split(".")[0] in HEAVY:
            found.add(name.split(".")[0])
    return sorted(found)


def run(workdir: Path, repeats: int) -> list[Figure]:
    """Figure 6."""
    time_help()  # the first run fills the file cache
    help_times = [time_help() for _ in range(repeats)]
    demo_times = [time_demo(workdir, n) for n in range(repeats)]
    heavy = heavy_imports(["--help"])
    return [
        Figure(
            "6",
            f"`apart-bot --help` (median of {repeats})",
            f"{median(help_times):.2f} s",
            "< 0.5 s",
            median(help_times) < 0.5,
            "heavy libraries imported: " + (", ".join(heavy) or "none"),
        ),
        Figure(
            "6",
            f"Demo to its first prompt (median of {repeats})",
            f"{median(demo_times):.2f} s",
            "< 2 s",
            median(demo_times) < 2.0,
            f"slowest {max(demo_times):.2f} s",
        ),
    ]
