"""The HTTP front of the services: every request is bounded, typed and answered before BentoML.

:class:`RequestGuard` is an ASGI middleware (``Service.add_asgi_middleware``) in front of the
BentoML app. For each guarded ``POST`` route (:class:`Route`) it

1. checks the credential when the route has one (``Authorization: Bearer <token>``, compared
   with :func:`hmac.compare_digest`): none given → **401** (``WWW-Authenticate: Bearer``), a
   wrong one → **403**, and no token configured on the server → **403** (the route is off);
2. refuses a body over the route's limit with **413**: from ``Content-Length`` before reading
   anything, else while streaming, never buffering more than the limit;
3. refuses a body that is not the route's media type with **415**;
4. parses and validates it (pydantic, JSON or a multipart upload) → **400** naming the fields;

then hands the parsed value to the service through the ASGI scope (:func:`parsed_body`), so
BentoML never parses the body a second time. Every answer it gives is one JSON object
``{"error": str, "detail": object?}`` (:data:`CLIENT_ERROR_SCHEMA`), logged as one WARNING
line (visible under BentoML's logging setup), never a traceback. ``GET /docs.json`` is
rewritten to document exactly these answers (:func:`patch_openapi`), so the OpenAPI document
and the service agree (schemathesis).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from mfg_assets.serving.errors import PayloadTooLargeError, RequestError, UnsupportedMediaError

log = logging.getLogger("mfg_assets.serving.requests")

STATE_KEY = "mfg_parsed_body"
WORKER_HEADER = b"x-served-by-worker"  # the answering worker's process id
MAX_LISTED_ERRORS = 10
CLIENT_ERROR = "ClientError"
CLIENT_ERROR_SCHEMA: dict[str, Any] = {
    "title": CLIENT_ERROR,
    "type": "object",
    "description": "A request the service cannot answer; 'detail' is structured where known",
    "properties": {
        "error": {"type": "string", "title": "Message"},
        "detail": {"type": "object", "title": "Error detail"},
    },
    "required": ["error"],
}
REASONS = {
    400: "Bad request: the body fails the schema",
    401: "No credential (Authorization: Bearer <token>)",
    403: "Wrong credential, or the route is disabled on this server",
    404: "Unknown model or machine",
    409: "The registry has no such version to load",
    413: "Body over the size limit",
    415: "Unsupported media type",
    422: "Well-formed, but the features needed are stale or incomplete",
    503: "The online feature store is unavailable",
}


class UnauthorizedError(RequestError):
    status_code = 401


class ForbiddenError(RequestError):
    status_code = 403


@dataclass(frozen=True)
class Route:
    """One guarded ``POST`` route: what its body must be and who may call it."""

    path: str
    kind: Literal["json", "multipart"]
    max_bytes: Callable[[], int]
    model: type[BaseModel] | None = None  # json: the body is validated into this
    file_field: str = "image"  # multipart: the file field handed to the service
    token: Callable[[], str | None] | None = None  # the bearer token the route needs
    statuses: tuple[int, ...] = (400, 413, 415)  # what the route can answer besides 200
    limit_hint: Callable[[], str] | None = None  # appended to the 413 message
    empty_body: str | None = None  # json: what an empty body means (None: body required)


def parsed_body(request: Any) -> Any:
    """The value :class:`RequestGuard` parsed for this request (None: not guarded)."""
    return request.scope.get("state", {}).get(STATE_KEY)


def client_error_response(exc: RequestError, method: str = "POST", path: str = "") -> Any:
    """A :class:`RequestError` as its JSON answer, logged as one WARNING line (no traceback)."""
    from starlette.responses import JSONResponse

    log.warning("%s %s -> %d %s", method, path, exc.status_code, exc.message[:200])
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)


def _short(value: Any) -> str:
    if isinstance(value, str | int | float | bool) and len(repr(value)) <= 60:
        return f" (got {value!r})"
    return ""


def validation_error(exc: ValidationError, model: str) -> RequestError:
    """A pydantic error as a 400 naming each field (``rows.0.vibration_mean: ...``)."""
    errors = exc.errors(include_url=False, include_context=False)
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return RequestError(f"Invalid JSON: {first.get('msg', '')}")
    if len(errors) == 1 and first.get("loc") == () and first.get("type") == "model_type":
        return RequestError("the request body must be a JSON object")
    listed = [
        {
            "loc": ".".join(str(p) for p in e["loc"]) or "(body)",
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in errors
    ]
    message = "; ".join(
        f"{item['loc']}: {item['msg']}{_short(e.get('input'))}"
        for item, e in zip(listed[:MAX_LISTED_ERRORS], errors, strict=False)
    )
    extra = len(listed) - MAX_LISTED_ERRORS
    more = f" (and {extra} more)" if extra > 0 else ""
    return RequestError(
        f"{len(listed)} validation error(s) for {model}: {message}{more}",
        detail={"errors": listed[:100]},
    )


def check_token(headers: dict[str, str], expected: str | None) -> None:
    """401 without ``Authorization: Bearer``, 403 with a wrong token or none configured."""
    if not expected:
        raise ForbiddenError(
            "this route is disabled: the server has no MFG_SERVING_RELOAD_TOKEN configured"
        )
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise UnauthorizedError("send the reload token as 'Authorization: Bearer <token>'")
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ForbiddenError("the reload token is not valid")


async def read_body(receive: Any, headers: dict[str, str], limit: int, hint: str = "") -> bytes:
    """The whole body, or 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"request body is {declared} bytes; the limit is {limit} bytes{hint}",
            detail={"size_bytes": int(declared), "limit_bytes": limit},
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError("client disconnected before sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(
                f"request body exceeds {limit} bytes{hint}", detail={"limit_bytes": limit}
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _media_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def parse_json(
    body: bytes, headers: dict[str, str], model: type[BaseModel], empty: str | None = None
) -> BaseModel:
    """``body`` validated into ``model``; ``empty`` stands in for an empty body when given."""
    if not body.strip() and empty is not None:
        return model.model_validate_json(empty)
    media = _media_type(headers)
    if media and media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaError(f"send JSON (Content-Type: application/json), not {media!r}")
    try:
        return model.model_validate_json(body or b"")
    except ValidationError as exc:
        raise validation_error(exc, model.__name__) from None


async def parse_multipart(scope: dict, body: bytes, field: str) -> bytes:
    """The bytes of the single file upload ``field`` of a multipart/form-data body."""
    from starlette.datastructures import UploadFile
    from starlette.requests import Request

    media = _media_type(_headers(scope))
    if media != "multipart/form-data":
        raise UnsupportedMediaError(
            f"send the image as multipart/form-data (field {field!r}), not {media!r}"
        )
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request(dict(scope), replay)
    try:
        form = await request.form(max_files=1, max_fields=8)
    except Exception as exc:  # starlette's MultiPartException and malformed bodies
        raise RequestError(f"malformed multipart body: {exc}") from None
    try:
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            raise RequestError(f"field {field!r} is missing or is not a file upload")
        return await upload.read()
    finally:
        await form.close()


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


class RequestGuard:
    """ASGI middleware answering every malformed, oversized or unauthorized request itself."""

    def __init__(self, app: Any, routes: Sequence[Route] = ()) -> None:
        self.app = app
        self.routes = {route.path: route for route in routes}
        self._worker = (WORKER_HEADER, str(os.getpid()).encode())

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/docs.json":
            return await self._docs(scope, receive, send)
        route = self.routes.get(path)
        if route is None or method != "POST":
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        try:
            if route.token is not None:
                check_token(headers, route.token())
            hint = route.limit_hint() if route.limit_hint is not None else ""
            body = await read_body(receive, headers, route.max_bytes(), hint)
            if route.kind == "json":
                assert route.model is not None
                value: Any = parse_json(body, headers, route.model, route.empty_body)
            else:
                value = await parse_multipart(scope, body, route.file_field)
        except RequestError as exc:
            response = client_error_response(exc, method, path)
            return await response(scope, receive, send)
        scope.setdefault("state", {})[STATE_KEY] = value
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_worker(message: dict) -> None:
            if message["type"] == "http.response.start":  # which worker answered (ops, tests)
                message = {**message, "headers": [*message.get("headers", []), self._worker]}
            await send(message)

        await self.app(scope, replay, send_with_worker)

    async def _docs(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass ``/docs.json`` through :func:`patch_openapi`."""
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if start.get("status") == 200:
            body = json.dumps(patch_openapi(json.loads(body), self.routes.values())).encode()
        headers = [
            (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
        ] + [(b"content-length", str(len(body)).encode())]
        await send(
            {"type": "http.response.start", "status": start.get("status", 500), "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


def patch_openapi(spec: dict, routes: Any) -> dict:
    """Document each guarded route's real answers: 200, its 4xx (one ``ClientError`` object
    schema), BentoML's 500; the bearer credential where the route needs one."""
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {})[CLIENT_ERROR] = CLIENT_ERROR_SCHEMA
    ref = {"$ref": f"#/components/schemas/{CLIENT_ERROR}"}
    for route in routes:
        operation = spec.get("paths", {}).get(route.path, {}).get("post")
        if operation is None:
            continue
        responses = operation.get("responses", {})
        kept = {code: value for code, value in responses.items() if str(code) in ("200", "500")}
        for status in sorted(route.statuses):
            kept[str(status)] = {
                "description": REASONS.get(status, "Client error"),
                "content": {"application/json": {"schema": ref}},
            }
        operation["responses"] = kept
        if "requestBody" in operation:
            operation["requestBody"]["required"] = route.kind == "multipart" or (
                route.empty_body is None
            )
        if route.kind == "multipart":  # an empty file is no upload
            for media in operation.get("requestBody", {}).get("content", {}).values():
                upload = media.get("schema", {}).get("properties", {}).get(route.file_field)
                if upload is not None:
                    upload["minLength"] = 1
        if route.token is not None:
            schemes = components.setdefault("securitySchemes", {})
            schemes["reloadToken"] = {"type": "http", "scheme": "bearer"}
            operation["security"] = [{"reloadToken": []}]
    return spec
