"""schemathesis against a real uvicorn serving paystream: every operation of the OpenAPI
document, with generated requests (each answer conforming to the document, no 5xx, bodies the
document allows accepted), then the links between operations as stateful sequences.

Only 127.0.0.1 is reached: the document is loaded from the code, requests go to the local port.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck

from app.http.openapi import SPEC
from app.merchants.api_keys import hash_api_key, new_api_key
from app.queue import keys
from tests.support.processes import Process, free_port, python_argv, wait_for_http

#: Generated requests per operation: enough to walk every schema branch, quick enough for CI.
EXAMPLES_PER_OPERATION = 15
STATEFUL_STEPS_MAX = 8
STATEFUL_EXAMPLES = 15

CONFIG_PATH = Path(__file__).with_name("schemathesis.toml")
schema = schemathesis.openapi.from_dict(
    SPEC, config=schemathesis.config.SchemathesisConfig.from_path(CONFIG_PATH)
)


class Server:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {api_key}"}


@pytest.fixture(scope="module")
def server(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    api_key = new_api_key()
    client = redis.Redis.from_url(redis_url)
    client.hset(keys.AUTH_KEY, hash_api_key(api_key), "mer_contract")
    client.close()
    port = free_port()
    argv = python_argv(
        *("-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)),
        *("--no-access-log", "--log-level", "warning"),
    )
    env = {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "LOG_FORMAT": "json"}
    process = Process("contract-web", argv, env, Path(tmp_path_factory.mktemp("contract")))
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/healthz", process)
        yield Server(base_url, api_key)
    finally:
        process.stop()


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case: Any, server: Server) -> None:
    case.call_and_validate(base_url=server.base_url, headers=server.headers)


def test_linked_operations_conform(server: Server) -> None:
    machine = schema.as_state_machine()

    class Linked(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": server.base_url, "headers": server.headers}

    Linked.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS_MAX,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
