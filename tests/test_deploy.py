"""The deployment files agree with the code: non-root, database on a volume, every setting."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path, PurePosixPath

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "apart-bot.service"
CONTAINERFILE = ROOT / "deploy" / "Containerfile"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text("utf-8"))
    return parser


def _instructions() -> list[tuple[str, str]]:
    text = CONTAINERFILE.read_text("utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


class TestSystemdUnit:
    def test_runs_as_an_unprivileged_user_with_the_database_in_its_state_directory(self) -> None:
        service = _unit()["Service"]
        assert service["User"] not in ("", "root", "0")
        state = PurePosixPath("/var/lib") / service["StateDirectory"]
        db_path = PurePosixPath(service["Environment"].split("APART_DB_PATH=", 1)[1].split()[0])
        assert db_path.parent == state
        assert service["StateDirectoryMode"] == "0700"

    def test_runs_the_bot_after_checking_it_and_gives_it_time_to_stop(self) -> None:
        service = _unit()["Service"]
        assert service["ExecStart"].endswith("apart-bot run")
        assert service["ExecStartPre"].endswith("apart-bot check")
        assert service["KillSignal"] == "SIGTERM"
        # The bot exits within 10 s of SIGTERM; systemd must not kill it sooner.
        assert int(service["TimeoutStopSec"]) > 10
        assert service["Restart"] == "on-failure"


class TestContainerfile:
    def test_runs_as_an_unprivileged_user_with_the_database_on_a_volume(self) -> None:
        steps = _instructions()
        users = [value for name, value in steps if name == "USER"]
        assert users
        assert users[-1] not in ("root", "0")
        env = " ".join(value for name, value in steps if name == "ENV")
        db_path = PurePosixPath(re.search(r"APART_DB_PATH=(\S+)", env).group(1))  # type: ignore[union-attr]
        volumes = " ".join(value for name, value in steps if name == "VOLUME")
        assert f'"{db_path.parent}"' in volumes
        assert [value for name, value in steps if name == "ENTRYPOINT"] == ['["apart-bot"]']

    def test_copies_every_package_the_project_installs(self) -> None:
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
        packages = {
            name.rstrip("*")
            for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
        }
        copied = {value.split()[0] for name, value in _instructions() if name == "COPY"}
        assert packages <= copied


def test_every_setting_is_documented_in_the_example_environment() -> None:
    example = (ROOT / ".env.example").read_text("utf-8")
    documented = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))
    aliases = {field.alias for field in Settings.model_fields.values() if field.alias}
    assert aliases <= documented
