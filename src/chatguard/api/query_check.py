"""A dependency every route carries: a query parameter the operation does not define is a 422
naming it, not silently ignored (a misspelt `?chanel_id=` would otherwise list every channel)."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from starlette.requests import HTTPConnection

#: Longest parameter name an error repeats.
SHOWN_NAME_CHARS = 64
#: Per route (by identity; routes are not hashable): the route and its parameter names.
_known: dict[int, tuple[object, frozenset[str]]] = {}


def _known_names(route: object) -> frozenset[str] | None:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    cached = _known.get(id(route))
    if cached is not None and cached[0] is route:
        return cached[1]
    names = frozenset(_query_names(dependant))
    _known[id(route)] = (route, names)
    return names


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters of an operation and of all its dependencies."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def known_query_only(connection: HTTPConnection) -> None:
    scope = connection.scope
    if scope["type"] != "http" or not scope.get("query_string"):
        # A WebSocket's own parameters are its route's business; and a request without a
        # query (every `POST /moderate`) has no parameter to check: its parsing is skipped.
        return
    known = _known_names(connection.scope.get("route"))
    if known is None:
        return
    unknown = sorted({name for name in connection.query_params if name not in known})
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name[:SHOWN_NAME_CHARS]),
                    "msg": "not a parameter of this operation",
                    "input": None,
                }
                for name in unknown
            ]
        )
