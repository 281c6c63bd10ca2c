"""Domain errors raised by services, shaped once for HTTP (DRF) and once for sockets.

A service says *what* went wrong (``code``, ``detail``); the interface decides how to show it:
the DRF exception handler below turns it into a status code, a consumer into an ``error`` frame.
"""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(
        self, detail: str, *, code: str | None = None, field: str | None = None, **extra: Any
    ):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra  # more for the client, in the error body or frame (e.g. retry_after)
        if code:
            self.code = code


class InvalidInput(ServiceError):
    status = 400
    code = "invalid_payload"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


def api_exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = {"detail": exc.detail, "code": exc.code}
        if exc.field:
            body = {exc.field: [exc.detail], "code": exc.code}
        return Response({**body, **exc.extra}, status=exc.status)
    return drf_exception_handler(exc, context)
