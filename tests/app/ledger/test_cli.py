"""The `paystream ledger` commands: balance, checkpoint, verify --from-checkpoint."""

import json
import os
import pty
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy import Engine

from app import cli, verifications
from app.ledger import append
from app.ledger.checkpoint import KEY_BYTES_MIN, KEY_ENVIRONMENT_VARIABLE
from app.queue.keys import LEDGER_VERIFICATION_KEY
from app.settings import settings
from tests.app.ledger.support import capture
from tests.support.processes import ROOT, python_argv
from tests.support.stack import CLI_TIMEOUT_S

Connection = psycopg.Connection[Any]

KEY = "k" * KEY_BYTES_MIN


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch, ledger_url: str, engine: Engine, redis_url: str
) -> Iterator[Engine]:
    monkeypatch.setenv("DATABASE_URL", ledger_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv(KEY_ENVIRONMENT_VARIABLE, KEY)
    # The command reads its settings from the environment once per process.
    settings.cache_clear()
    append(engine, [capture("pay_1", amount=1000), capture("pay_2", amount=500, merchant="mer_b")])
    yield engine
    settings.cache_clear()


def run(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(arguments)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_balance_prints_each_account(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(["ledger", "balance"], capsys)
    assert status == 0
    assert out.splitlines() == [
        "merchant:mer_a:payable:usd\tusd\t-1000",
        "merchant:mer_b:payable:usd\tusd\t-500",
        "provider:stripe:clearing:usd\tusd\t1500",
    ]


def test_balance_of_a_merchant_as_of_a_seq(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(["ledger", "balance", "--merchant", "mer_a", "--as-of-seq", "1"], capsys)
    assert status == 0
    assert out.splitlines() == [
        "merchant:mer_a:payable:usd\tusd\t-1000",
        "provider:stripe:clearing:usd\tusd\t1000",
    ]


def test_checkpoint_then_verify_from_it(
    configured: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(["ledger", "checkpoint"], capsys)
    assert status == 0 and KEY not in out
    assert json.loads(out)["seq"] == 2
    saved = tmp_path / "checkpoint.json"
    saved.write_text(out)
    append(configured, [capture("pay_3")])
    status, out, _ = run(["ledger", "verify", "--from-checkpoint", str(saved)], capsys)
    assert (status, out) == (0, "ledger ok: 1 transaction(s), head seq 3\n")


def test_checkpoint_refuses_without_a_key(
    configured: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENVIRONMENT_VARIABLE)
    status, out, err = run(["ledger", "checkpoint"], capsys)
    assert (status, out) == (2, "")
    assert KEY_ENVIRONMENT_VARIABLE in err


def test_verify_refuses_a_tampered_checkpoint(
    configured: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, out, _ = run(["ledger", "checkpoint"], capsys)
    saved = tmp_path / "checkpoint.json"
    saved.write_text(json.dumps(json.loads(out) | {"seq": 1}))
    status, _, err = run(["ledger", "verify", "--from-checkpoint", str(saved)], capsys)
    assert status == 2 and "signature" in err


def test_verify_names_the_first_bad_seq(
    configured: Engine, capsys: pytest.CaptureFixture[str], superuser: Connection
) -> None:
    superuser.execute("ALTER TABLE ledger_postings DISABLE TRIGGER ALL")
    superuser.execute("UPDATE ledger_postings SET amount = 999 WHERE transaction_seq = 2")
    status, _, err = run(["ledger", "verify"], capsys)
    assert status == 1 and "BROKEN at seq 2" in err


def test_verify_keeps_its_result_for_the_console(
    configured: Engine, capsys: pytest.CaptureFixture[str], redis_client: redis.Redis
) -> None:
    redis_client.delete(LEDGER_VERIFICATION_KEY)

    status, _, _ = run(["ledger", "verify"], capsys)

    kept = verifications.decode(redis_client.get(LEDGER_VERIFICATION_KEY))
    assert status == 0 and kept is not None
    assert (kept.ok, kept.head_seq, kept.entries_checked) == (True, 2, 2)


def verify_process(env: dict[str, str], **streams: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        python_argv("-m", "app.cli", "ledger", "verify"),
        cwd=ROOT,
        env={**os.environ, **env},
        **streams,
    )


def test_verify_exits_2_with_one_line_when_the_database_cannot_be_reached() -> None:
    unreachable = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:9/paystream"}
    process = verify_process(unreachable, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=CLI_TIMEOUT_S)

    assert process.returncode == 2
    assert out == b""
    [line] = err.decode().splitlines()
    assert line.startswith("ledger not verified: cannot read it (")
    assert "Traceback" not in line


def test_verify_shows_progress_at_a_terminal(configured: Engine, ledger_url: str) -> None:
    controller, terminal = pty.openpty()
    try:
        process = verify_process(
            {"DATABASE_URL": ledger_url}, stdout=subprocess.PIPE, stderr=terminal
        )
        out, _ = process.communicate(timeout=CLI_TIMEOUT_S)
        shown = os.read(controller, 4096).decode()
    finally:
        os.close(controller)
        os.close(terminal)

    assert process.returncode == 0
    assert out.decode().startswith("ledger ok")
    assert "\rverifying the ledger" in shown
