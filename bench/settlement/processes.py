"""Starting the Procfile's lines exactly as written, and watching what was started."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT, Process

#: honcho sits next to this interpreter (scripts/install puts it there: the bench extra).
HONCHO = Path(sys.executable).parent / "honcho"


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
    """The command as the shell honcho starts will expand it, for the report."""
    shown = subprocess.run(
        ["sh", "-c", f"echo {command}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout.strip()


def procfile_process(name: str, env: dict[str, str], log_dir: Path, port: int) -> Process:
    """``honcho start NAME``: the Procfile's line, with PORT set to ``port``."""
    if not HONCHO.exists():
        raise SystemExit("honcho is missing: install with scripts/install")
    # No .env file: the benchmark's environment alone decides, whatever a developer keeps there.
    argv = [str(HONCHO), "start", "--env", os.devnull, "--no-prefix", "-p", str(port), name]
    return Process(name, argv, env, log_dir)


def ensure_running(process: Process) -> None:
    if process.popen.poll() is not None:
        raise RuntimeError(f"{process.name} exited early:\n{process.log()[-4000:]}")
