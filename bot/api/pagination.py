"""Pages of a list: `?limit=` (1 to MAX_LIMIT, default DEFAULT_LIMIT) and `?offset=` (from 0).

The answer holds `count` (rows matching the filters), `next` and `previous` (links, or null)
and `results`. An offset past the end is an empty page. A limit or offset that is not a
whole number in range is a 400, where DRF's own class would quietly use its default.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

_DIGITS = re.compile(r"[0-9]{1,18}")


class RecordPagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        return self._whole_number(request, self.limit_query_param, minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT)

    def get_offset(self, request: Request) -> int:
        return self._whole_number(request, self.offset_query_param, minimum=0, maximum=None, default=0)

    @staticmethod
    def _whole_number(request: Request, name: str, *, minimum: int, maximum: int | None, default: int) -> int:
        raw = request.query_params.get(name, "")
        if raw == "":
            return default
        if not _DIGITS.fullmatch(raw) or int(raw) < minimum or (maximum is not None and int(raw) > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"from {minimum}"
            raise ValidationError({name: [f"Must be a whole number {bounds}."]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update(minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT)
                parameter["description"] = f"Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"].update(minimum=0, maximum=10**18 - 1, default=0)
                parameter["description"] = "How many rows to skip (default 0); past the end, the page is empty."
        return parameters
