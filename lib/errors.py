"""Errors that carry their HTTP status, so every host writes the same error shape."""

from __future__ import annotations


class ApiError(Exception):
    """Raised when a request ends in an error the client should see."""

    STATUS = 500
    CODE = "internal"

    def __init__(self, message: str, *, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict:
        error = {"code": self.CODE, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error, "request_id": request_id}


class InvalidRequest(ApiError):
    """Raised when a field is missing, of the wrong type or out of range."""

    STATUS = 400
    CODE = "invalid_request"


class InvalidJson(ApiError):
    """Raised when the body is not valid JSON, or not a JSON object."""

    STATUS = 400
    CODE = "invalid_json"


class Unauthorized(ApiError):
    """Raised when a key is required and is missing or wrong."""

    STATUS = 401
    CODE = "unauthorized"

    def __init__(self, message: str = "a valid API key is required"):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    """Raised when a route is switched off by configuration."""

    STATUS = 403
    CODE = "forbidden"


class NotFound(ApiError):
    """Raised when no route matches the path."""

    STATUS = 404
    CODE = "not_found"


class MethodNotAllowed(ApiError):
    """Raised when the route exists but not for this method."""

    STATUS = 405
    CODE = "method_not_allowed"

    def __init__(self, message: str, allowed: list[str]):
        super().__init__(message, headers={"Allow": ", ".join(allowed)})


class PayloadTooLarge(ApiError):
    """Raised when the body is over MAX_BODY_BYTES."""

    STATUS = 413
    CODE = "payload_too_large"


class UnsupportedMediaType(ApiError):
    """Raised when a body is sent with a content type other than JSON."""

    STATUS = 415
    CODE = "unsupported_media_type"


class RateLimited(ApiError):
    """Raised when a client has used up its requests for now."""

    STATUS = 429
    CODE = "rate_limited"


class Unavailable(ApiError):
    """Raised when a dependency the request needs is down."""

    STATUS = 503
    CODE = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5):
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class UpstreamTimeout(ApiError):
    """Raised when a dependency took too long to answer."""

    STATUS = 504
    CODE = "upstream_timeout"


class Internal(ApiError):
    """Raised in place of an unexpected exception: says nothing internal."""

    STATUS = 500
    CODE = "internal"

    def __init__(self):
        super().__init__("internal error; the request id identifies it in the logs")


class RequestTimeout(ApiError):
    """Raised when a request's headers or body did not arrive in time."""

    STATUS = 408
    CODE = "request_timeout"
