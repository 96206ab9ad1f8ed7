"""The command line: one plain line for anything a person gets wrong, never a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bot.cli import main

if TYPE_CHECKING:
    from pathlib import Path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        status = main(list(argv))
    except SystemExit as stop:
        status = int(stop.code or 0)
    captured = capsys.readouterr()
    return status, captured.err + captured.out


class TestPlainErrors:
    @pytest.mark.parametrize(
        "argv",
        [
            ("backup", "/nonexistent/dir/x.db"),
            ("export", "--format", "csv", "--out", "/nonexistent/x.csv"),
            ("report", "--team", "North", "--out", "/nonexistent/x.pdf"),
            ("export-case", "YP-A1", "--out", "/nonexistent/sar"),
        ],
    )
    def test_an_output_in_a_missing_folder_is_refused_in_one_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: tuple[str, ...]
    ) -> None:
        status, err = _run(capsys, *argv)
        assert status == 2
        assert "does not exist; create it first" in err
        assert "Traceback" not in err

    @pytest.mark.parametrize("command", ["migrate", "check", "export-case"])
    def test_a_database_path_that_is_a_folder_is_named(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
        command: str,
    ) -> None:
        monkeypatch.setenv("APART_DB_PATH", str(tmp_path))
        argv = (command, "YP-A1") if command == "export-case" else (command,)
        status, said = _run(capsys, *argv)
        assert status != 0
        assert "APART_DB_PATH names a folder" in said
        assert "Traceback" not in said

    def test_staff_need_an_existing_team(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("APART_DB_PATH", str(tmp_path / "a.db"))
        status, err = _run(capsys, "staff", "add", "123", "--team", "Typo")
        assert status == 2
        assert "There is no team 'Typo'" in err
