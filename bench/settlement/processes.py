"""Starting the Procfile's lines exactly as written, and watching what was started."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT, Process


def venv_path() -> str:
    """PATH with this interpreter's folder first: the Procfile's commands come from its venv."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return command.strip()
    raise SystemExit(f"the Procfile has no {name}: line")


def expanded(command: str, env: dict[str, str]) -> str:
    """The command as the shell that starts it expands it, for the report."""
    shown = subprocess.run(
        ["sh", "-c", f"echo {command}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout.strip()


def procfile_process(name: str, env: dict[str, str], log_dir: Path, port: int) -> Process:
    """The Procfile's line run by a shell, as a platform runs it, with PORT set to ``port``.

    ``exec``: the shell becomes the command, so the process watched is the command itself,
    started exactly as the naive peer's worker is (no process manager in between)."""
    argv = ["sh", "-c", f"exec {procfile_line(name)}"]
    return Process(name, argv, {**env, "PATH": venv_path(), "PORT": str(port)}, log_dir)


def ensure_running(process: Process) -> None:
    if process.popen.poll() is not None:
        raise RuntimeError(f"{process.name} exited early:\n{process.log()[-4000:]}")
