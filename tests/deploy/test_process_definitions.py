"""The Procfile, the systemd units and DEPLOY.md start the same commands, and the units are
valid for systemd (`systemd-analyze verify`, with the paths pointed at this checkout)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNITS = ROOT / "deploy" / "systemd"


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        found = re.match(r"^(\w+):\s*(.+)$", line)
        if found:
            entries[found.group(1)] = found.group(2)
    return entries


def exec_start(unit: str) -> str:
    (line,) = [
        line for line in (UNITS / unit).read_text().splitlines() if line.startswith("ExecStart=")
    ]
    return line.removeprefix("ExecStart=").replace("/srv/mailhub/.venv/bin/", "")


def test_units_and_procfile_run_the_same_commands():
    processes = procfile()
    assert set(processes) == {"release", "web", "worker"}
    assert exec_start("mailhub-web.service") == processes["web"]
    assert exec_start("mailhub-worker@.service") == processes["worker"]
    assert processes["release"] == (
        "python manage.py migrate --no-input && python manage.py collectstatic --no-input"
    )
    deploy = (ROOT / "docs" / "DEPLOY.md").read_text()
    for command in processes.values():
        assert command in deploy, command


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_units_verify(tmp_path):
    venv_bin = str(Path(sys.executable).parent)  # this run's virtualenv, gunicorn included
    env_file = tmp_path / "mailhub.env"
    env_file.write_text("DEBUG=false\n")
    for unit in UNITS.iterdir():
        text = (
            unit.read_text()
            .replace("/srv/mailhub/.venv/bin", venv_bin)
            .replace("/srv/mailhub", str(ROOT))
            .replace("/etc/mailhub/mailhub.env", str(env_file))
            .replace("User=mailhub", "User=root")
            .replace("Group=mailhub", "Group=root")
        )
        (tmp_path / unit.name).write_text(text)
    for instance in ("1", "2"):  # the instances the target wants
        shutil.copy(
            tmp_path / "mailhub-worker@.service", tmp_path / f"mailhub-worker@{instance}.service"
        )
    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "./mailhub-web.service",
            "./mailhub-worker@1.service",
            "./mailhub.target",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
