"""Client errors of the serving layer: each carries the HTTP status the service answers with."""

from __future__ import annotations

from typing import Any


class RequestError(ValueError):
    """The request cannot be answered because of what the client sent (a 4xx, never a 5xx)."""

    status_code = 400

    def __init__(self, message: str, *, detail: Any = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


class UnknownMachinesRequestError(RequestError):
    """Machine ids without features in the online store."""

    status_code = 404


class UnprocessableRequestError(RequestError):
    """Well-formed, but the data needed to answer is unusable (stale or incomplete features)."""

    status_code = 422


class FeaturesUnavailableError(RequestError):
    """The online store cannot be read (not set up yet, unreachable): retry later (503)."""

    status_code = 503


class PayloadTooLargeError(RequestError):
    status_code = 413


class UnsupportedMediaError(RequestError):
    status_code = 415


class ModelNotFoundError(RequestError):
    """A reload asked for a model tag that no model store holds."""

    status_code = 404
