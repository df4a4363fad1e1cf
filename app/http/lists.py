"""List endpoints, Stripe's way: ``limit``, ``starting_after``/``ending_before`` (an object id),
filters; answered as ``{"object": "list", "url", "has_more", "data"}``. Any parameter the list
does not take, given twice, or out of its range is a 400 naming it."""

import json
from collections.abc import Collection, Mapping

from starlette.datastructures import QueryParams
from starlette.responses import Response

from app.errors import InvalidRequest
from app.history.pages import LIMIT_DEFAULT, LIMIT_MAX, Cursor, Page, PageRequest
from app.http.responses import JSON_MEDIA_TYPE
from app.queue import keys

PAGING_PARAMETERS = ("limit", "starting_after", "ending_before")


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise InvalidRequest(f"'{name}' may be given once.", field=name)
    return values[0] if values else None


def _cursor(params: QueryParams, name: str, id_prefix: str) -> Cursor | None:
    value = _single(params, name)
    if value is None:
        return None
    millis = keys.created_ms(value, id_prefix)
    if millis is None or keys.partition_of(value, id_prefix, keys.PARTITIONS_MAX) is None:
        raise InvalidRequest(f"'{name}' must be an id starting with '{id_prefix}'.", field=name)
    return Cursor(millis, value)


def _limit(params: QueryParams) -> int:
    value = _single(params, "limit")
    if value is None:
        return LIMIT_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= LIMIT_MAX:
        raise InvalidRequest(
            f"'limit' must be a whole number from 1 to {LIMIT_MAX}.", field="limit"
        )
    return int(value)


def list_query(
    params: QueryParams, id_prefix: str, filters: Mapping[str, Collection[str]]
) -> tuple[PageRequest, dict[str, str]]:
    """The page asked for, and the filters given (each one of its allowed values)."""
    for name in params:
        if name not in PAGING_PARAMETERS and name not in filters:
            raise InvalidRequest(f"'{name}' is not a parameter of this list.", field=name)
    starting_after = _cursor(params, "starting_after", id_prefix)
    ending_before = _cursor(params, "ending_before", id_prefix)
    if starting_after is not None and ending_before is not None:
        raise InvalidRequest(
            "Give 'starting_after' or 'ending_before', not both.", field="ending_before"
        )
    chosen: dict[str, str] = {}
    for name, allowed in filters.items():
        value = _single(params, name)
        if value is None:
            continue
        if value not in allowed:
            listed = ", ".join(sorted(allowed))
            raise InvalidRequest(f"'{name}' must be one of: {listed}.", field=name)
        chosen[name] = value
    return PageRequest(_limit(params), starting_after, ending_before), chosen


def list_response(page: Page, url: str) -> Response:
    """The list, its objects' JSON passed through as stored."""
    head = {"object": "list", "url": url, "has_more": page.has_more}
    opening = json.dumps(head, separators=(",", ":"))[:-1]
    return Response(f'{opening},"data":[{",".join(page.bodies)}]}}', media_type=JSON_MEDIA_TYPE)
