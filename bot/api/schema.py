"""The OpenAPI description of the answers every API operation can also give.

drf-spectacular describes each operation's 200; the rest is the same everywhere, so it is
written once here: 401 (no or a bad token), 403 (not allowed), 429 (throttled), 404 for an
operation on one record, and 400 (a bad query parameter) for a list. And every optional
query parameter may be sent empty (`allowEmptyValue`): empty is "not given".
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

_ERROR = ResolvedComponent(
    name="Error",
    type=ResolvedComponent.SCHEMA,
    object="Error",
    schema={
        "type": "object",
        "description": "What went wrong.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
)
_INVALID_PARAMETERS = ResolvedComponent(
    name="InvalidParameters",
    type=ResolvedComponent.SCHEMA,
    object="InvalidParameters",
    schema={
        "type": "object",
        "description": "Each refused query parameter, with what is wrong with it.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
)


class ApiSchema(AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        for parameter in (operation or {}).get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return operation

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors = {
            "401": ("No credentials, or a token that is not valid.", _ERROR),
            "403": ("The user may not read this.", _ERROR),
            "429": ("Too many requests: the Retry-After header says when to try again.", _ERROR),
        }
        if "{" in self.path:
            errors["404"] = ("No such record.", _ERROR)
        if self._is_list_view():
            errors["400"] = ("A query parameter was refused.", _INVALID_PARAMETERS)
        for code, (description, component) in sorted(errors.items()):
            self.registry.register_on_missing(component)
            responses.setdefault(code, {"description": description, "content": {"application/json": {"schema": component.ref}}})
        return responses
