"""The OpenAPI document names exactly the routes the app serves: a route added without its
entry, or an entry left for a route gone, fails here."""

from starlette.routing import Mount, Route

from app.http.openapi import OPERATIONS, SPEC
from app.main import create_app
from app.settings import load

#: The operators' console: HTML pages for people, not part of the API.
UNDOCUMENTED_MOUNTS = ("/console",)
#: Starlette answers HEAD wherever GET is served; the document names the GET.
IMPLIED_METHODS = {"HEAD"}


def served() -> set[tuple[str, str]]:
    operations = set()
    for route in create_app(load()).routes:
        if isinstance(route, Mount) and route.path in UNDOCUMENTED_MOUNTS:
            continue
        assert isinstance(route, Route), f"{route!r}: document it or list it as undocumented"
        for method in (route.methods or set()) - IMPLIED_METHODS:
            operations.add((method.lower(), route.path))
    return operations


def test_every_route_is_documented_and_nothing_else() -> None:
    assert served() == set(OPERATIONS)


def test_every_answer_documents_its_request_id() -> None:
    for methods in SPEC["paths"].values():
        for operation in methods.values():
            for answer in operation["responses"].values():
                assert "Request-Id" in answer["headers"]


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for operation in OPERATIONS.values()]
    assert len(ids) == len(set(ids))
