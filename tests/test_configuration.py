"""Honest configuration, read the way an operator meets it: each process (web, worker, command
line) started with a bad environment says everything that is wrong in one message and exits
with status 2, no traceback; and the deploy files are what a platform needs."""

import os
import re
import subprocess
import tomllib

import pytest

from tests.support.processes import ROOT, python_argv

START_TIMEOUT_S = 60
#: Platforms kill a process this long after SIGTERM.
PLATFORM_STOP_S = 30
BAD_ENVIRONMENT = {
    "STREAM_PARTITIONS": "eight",
    "PROVIDER_TIMEOUT_S": "soon",
    "CONSOLE_TOKEN": "short",
    "STRIPE_SECRET_KEY": "sk_live_must_never_be_printed",
}
WEB = python_argv("-m", "uvicorn", "app.main:app", "--port", "0")
WORKER = python_argv("-m", "dramatiq", "actors", "--processes", "1", "--threads", "1")
COMMAND = python_argv("-m", "app.cli", "queue", "status")


def started(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_API_BASE", "_SECRET_KEY"))}
    return subprocess.run(
        argv,
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )


@pytest.mark.parametrize("argv", [WEB, WORKER, COMMAND], ids=["web", "worker", "command"])
def test_a_bad_environment_stops_every_process_with_one_message(argv: list[str]) -> None:
    result = started(argv, BAD_ENVIRONMENT)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("paystream cannot start") == 1
    for name in ("STREAM_PARTITIONS", "PROVIDER_TIMEOUT_S", "CONSOLE_TOKEN"):
        assert name in result.stderr
    assert "sk_live_must_never_be_printed" not in result.stdout + result.stderr


def test_a_worker_with_a_placeholder_key_against_the_real_provider_refuses_to_start() -> None:
    result = started(
        WORKER, {"PAYSTACK_API_BASE": "http://127.0.0.1:9", "REDIS_URL": "redis://127.0.0.1:9"}
    )

    assert result.returncode == 2, result.stderr
    assert "STRIPE_SECRET_KEY is unset" in result.stderr
    assert "PAYSTACK" not in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_passes_a_good_environment() -> None:
    result = started(
        python_argv("-m", "app.cli", "config", "check"),
        {"STRIPE_SECRET_KEY": "sk_test_x", "PAYSTACK_SECRET_KEY": "sk_test_y"},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "settings ok"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = (line.partition(":") for line in lines)
    return {name.strip(): command.strip() for name, _, command in entries}


def test_the_web_process_binds_every_interface_on_port() -> None:
    web = procfile()["web"]

    assert re.search(r"--host \$\{HOST:-0\.0\.0\.0\}", web), web
    assert "--port ${PORT" in web


def test_the_worker_stops_inside_the_platforms_30_seconds() -> None:
    found = re.search(r"--worker-shutdown-timeout (\d+)", procfile()["worker"])

    assert found is not None
    assert int(found.group(1)) < PLATFORM_STOP_S * 1000


def test_the_release_phase_checks_the_settings_first() -> None:
    assert procfile()["release"].startswith("paystream config check && ")


def test_the_buildpack_finds_a_python_version_and_a_lock_of_every_dependency() -> None:
    version = (ROOT / ".python-version").read_text().strip()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())

    assert re.fullmatch(r"3\.\d+", version)
    locked = {package["name"] for package in lock["package"]}
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower()
        assert name in locked, f"{name} is not in uv.lock: run `uv lock`"
