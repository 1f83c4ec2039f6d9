"""The emulator's HTTP layer: one routing table and thin handlers over the store and the OAuth rules."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credly_contract import spec
from credly_contract.emulator import oauth
from credly_contract.emulator.store import (
    DEFAULT_PER,
    MAX_PER,
    Creator,
    Invalid,
    NotFound,
    Page,
    Store,
    Token,
)

API_PREFIX = spec.server_path()  # "/v1": the contract's servers
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class BadRequest(ValueError):
    """A request the API cannot parse (400)."""


def credly_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"data": {"message": message}, "metadata": {}}, status, headers=headers)


def _positive_int(request: Request, name: str, default: int, cap: int | None = None) -> int:
    """A positive whole-number query parameter. Values above ``cap`` are served at the cap (the docs
    name no maximum page size, so a larger ``per`` is valid by the contract: it is capped, as Rails
    paginators do, and metadata.per says what was applied)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw!r}") from None
    store: Store = request.app.state.store
    if value == 0 and name == "per" and "per_zero_500" in store.faults:
        return 0
    if value < 1:
        raise BadRequest(f"{name} must be at least 1, not {value}")
    return min(value, cap) if cap is not None else value


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            return dict(parse_qsl(raw.decode(), keep_blank_values=True))
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(f"The form body cannot be parsed: {error}") from None
    try:
        body = json.loads(raw or b"{}")
        # A lone surrogate escape ("\ud800") parses but cannot be encoded back to UTF-8.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"The request body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequest("The request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise BadRequest(f"The request body must be a JSON object, not {type(body).__name__}")
    return body


def _page_url(request: Request, page: int, per: int) -> str:
    url = request.url.replace(query="")
    if "links_downgrade_to_http" in request.app.state.store.faults:
        url = url.replace(scheme="http", port=None)  # what the application behind TLS saw
    return f"{url!s}?{urlencode({'page': page, 'per': per})}"


def _list_envelope(request: Request, data: list[Any], page: Page) -> dict[str, Any]:
    store: Store = request.app.state.store
    is_last = page.page >= page.total_pages and "next_page_url_on_last_page" not in store.faults
    return {
        "data": data,
        "metadata": {
            "count": len(data),
            "current_page": page.page,
            "total_count": page.total_count,
            "total_pages": page.total_pages,
            "per": page.per,
            "previous_page_url": None
            if page.page == 1
            else _page_url(request, page.page - 1, page.per),
            "next_page_url": None if is_last else _page_url(request, page.page + 1, page.per),
        },
    }


Handler = Callable[[Request, Store, Token | None], Awaitable[Response]]


def api(operation_id: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap the handler of a contract operation with Bearer authentication, the scope the contract's
    security requirement names for it, the tenant rules, and the error mapping."""
    scope = spec.required_scope(operation_id)

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            store: Store = request.app.state.store
            org_id = request.path_params["organization_id"]
            try:
                token = oauth.authenticate(store, request.headers.get("authorization"), org_id)
                oauth.authorize(store, token, org_id, scope)
                return await handler(request, store, token)
            except oauth.BearerError as error:
                return credly_error(
                    error.status, error.message, oauth.bearer_error_headers(error, store.faults)
                )
            except NotFound as error:
                if (
                    "unknown_id_not_404" in store.faults
                    and "oauth_application_id" in request.path_params
                ):
                    return credly_error(400, str(error))
                return credly_error(404, str(error))
            except BadRequest as error:
                return credly_error(400, str(error))
            except Invalid as error:
                return credly_error(422, str(error))

        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


def _app_id(request: Request) -> int:
    raw = request.path_params["oauth_application_id"]
    # Only plain ASCII digits: int() would also take "+1", " 1", "1_0" and non-ASCII digits.
    if not (raw.isascii() and raw.isdigit()):
        raise NotFound(f"OAuth application {raw} not found")
    return int(raw)


@api("listOAuthApplications")
async def list_applications(request: Request, store: Store, token: Token | None) -> Response:
    org_id = request.path_params["organization_id"]
    page_no = _positive_int(request, "page", 1)
    per = _positive_int(request, "per", DEFAULT_PER, MAX_PER)
    page = store.paginate(store.list_applications(org_id), page_no, per)
    envelope = _list_envelope(request, [store.application_json(a) for a in page.items], page)
    if "list_without_metadata" in store.faults:
        del envelope["metadata"]
    if "list_as_text" in store.faults:
        return JSONResponse(envelope, media_type="text/plain")
    return JSONResponse(envelope)


@api("createOAuthApplication")
async def create_application(request: Request, store: Store, token: Token | None) -> Response:
    fields = await _json_object(request)
    creator_app = oauth.application_of(store, token)
    creator = None
    if creator_app is not None:
        creator = Creator(creator_app.internal_id, "OauthApplication", creator_app.name)
    app = store.create_application(request.path_params["organization_id"], fields, creator)
    status = 200 if "create_returns_200" in store.faults else 201
    body = {"data": store.application_json(app, reveal_secret=True), "metadata": {}}
    return JSONResponse(body, status)


@api("getOAuthApplication")
async def get_application(request: Request, store: Store, token: Token | None) -> Response:
    app = store.application(request.path_params["organization_id"], _app_id(request))
    return JSONResponse({"data": store.application_json(app), "metadata": {}})


@api("updateOAuthApplication")
async def update_application(request: Request, store: Store, token: Token | None) -> Response:
    fields = await _json_object(request)
    app_id = _app_id(request)
    app = store.update_application(request.path_params["organization_id"], app_id, fields)
    return JSONResponse({"data": store.application_json(app), "metadata": {}})


@api("deleteOAuthApplication")
async def delete_application(request: Request, store: Store, token: Token | None) -> Response:
    store.delete_application(request.path_params["organization_id"], _app_id(request))
    if "delete_returns_200" in store.faults:
        return JSONResponse({"data": {"message": "Deleted"}, "metadata": {}}, 200)
    return Response(status_code=204)


@api("listIssuedBadges")
async def list_badges(request: Request, store: Store, token: Token | None) -> Response:
    org = store.organization(request.path_params["organization_id"])
    page_no = _positive_int(request, "page", 1)
    per = _positive_int(request, "per", DEFAULT_PER, MAX_PER)
    page = store.paginate(org.badges, page_no, per)
    envelope = _list_envelope(request, page.items, page)
    if "badges_wrong_envelope" in store.faults:
        return JSONResponse(page.items)
    return JSONResponse(envelope)


async def issue_token(request: Request) -> Response:
    store: Store = request.app.state.store
    headers = {} if "token_cacheable" in store.faults else NO_STORE
    try:
        params = await _json_object(request)
        body = oauth.grant_client_credentials(store, params, request.headers.get("authorization"))
    except (BadRequest, oauth.OAuthError) as failure:
        error = failure if isinstance(failure, oauth.OAuthError) else oauth.invalid_request(failure)
        return JSONResponse(error.body(), error.status, headers | oauth.token_error_headers(error))
    return JSONResponse(body, 200, headers)


async def not_found(request: Request, exc: Exception) -> Response:
    return credly_error(404, f"No route matches {request.method} {request.url.path}")


def allowed_methods(scope: Scope) -> list[str]:
    """Every method the routing table serves on the request's path (RFC 9110 §15.5.6: a 405 names
    them all in Allow), not only those of the first route that matched the path."""
    methods: set[str] = set()
    for route in ROUTES:
        if route.path_regex.match(scope["path"]):
            methods |= set(route.methods or ())
    return sorted(methods)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    if request.url.path == TOKEN_PATH:
        # Doorkeeper routes only POST /oauth/token; Rails answers any other method with a 404.
        return await not_found(request, exc)
    allow = {"Allow": ", ".join(allowed_methods(request.scope))}
    return credly_error(405, f"{request.method} is not allowed on {request.url.path}", allow)


TOKEN_PATH = spec.token_path()
# The handler of each documented operation; its path and method are the contract's.
HANDLERS = {
    "listOAuthApplications": list_applications,
    "createOAuthApplication": create_application,
    "getOAuthApplication": get_application,
    "updateOAuthApplication": update_application,
    "deleteOAuthApplication": delete_application,
    "listIssuedBadges": list_badges,
    "createAccessToken": issue_token,
}
ROUTES = [
    Route(spec.route(operation_id), HANDLERS[operation_id], methods=[operation["method"]])
    for operation_id, operation in spec.operations().items()
]


class InternalErrors:
    """An exception in a handler (a fault's crash such as per_zero_500, or an emulator bug) answers
    500 with the error envelope, as Credly's Rails app would, and the connection stays open. Left to
    Starlette, the 500 is sent and the exception re-raised to uvicorn, which then closes the
    keep-alive connection: a client that had already sent its next request on it saw a reset where
    Credly would have answered. The traceback is logged as uvicorn logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if started:
                raise
            logging.getLogger("uvicorn.error").exception(
                "emulator: internal error on %s %s", scope["method"], scope["path"]
            )
            await credly_error(500, "Internal Server Error")(scope, receive, send)


def create_app(store: Store) -> Starlette:
    app = Starlette(
        routes=ROUTES,
        exception_handlers={404: not_found, 405: method_not_allowed},
        middleware=[Middleware(InternalErrors)],
    )
    app.state.store = store
    return app
