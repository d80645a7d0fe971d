"""The stand-in's HTTP server: localstripe's aiohttp app plus the Connect routes and test controls.

Everything localstripe serves stays as it is (`/v1/...`, `/js.stripe.com/v3/`,
`/_config/webhooks/{id}`, `DELETE /_config/data`); this module adds routes to
the same `app` and two middlewares:

- `/_standin/...` (test controls and the onboarding page a browser opens) needs
  no API key, like localstripe's `/_config/...`;
- POSTs to the Connect endpoints honour `Idempotency-Key` as Stripe does
  (localstripe ignores the header): the same key with the same parameters
  answers the first response again (`Idempotent-Replayed: true`), with other
  parameters a 400 `idempotency_error`. Only successful answers are kept, so a
  request refused (destination not enabled yet) can be retried with its key
  once the cause is gone.

Every request to the new Stripe endpoints is checked against Stripe's parameter
names (`params.ALLOWED_PARAMS`).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from localstripe import server as localstripe_server
from localstripe.resources import store

from .params import check_params
from .resources import Account, AccountLink, Dispute, Transfer, TransferReversal, bad_request, no_such

app = localstripe_server.app
json_response = localstripe_server.json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Where the account links point (`--public-url`); by default the address the request came to.
_public_url: str | None = None


# --- Request helpers --------------------------------------------------------------------------


async def _params(request: web.Request, route: str) -> dict[str, Any]:
    """The request's parameters (form, JSON or query), refused if Stripe does not know a name."""
    if request.method == "GET":
        data = localstripe_server.unflatten_data(request.query)
    else:
        data = await localstripe_server.get_post_data(request, remove_auth=False) or {}
    data = dict(data)
    check_params(request.method, route, data)
    return data


async def _control_params(request: web.Request) -> dict[str, Any]:
    return dict(await localstripe_server.get_post_data(request, remove_auth=False) or {})


def _respond(obj: Any, expand: Any = None) -> web.Response:
    return json_response(obj._export(expand=expand))


def _base_url(request: web.Request) -> str:
    return _public_url or f"{request.scheme}://{request.host}"


def _retrieve(cls: type, object_id: str, kind: str) -> Any:
    obj = store.get(f"{cls.object}:{object_id}")
    if obj is None:
        raise no_such(kind, object_id)
    return obj


# --- Stripe API: accounts and account links ---------------------------------------------------


async def create_account(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/accounts")
    expand = data.pop("expand", None)
    account = Account(**data)
    return _respond(account, expand)


async def retrieve_account(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/accounts/{id}")
    return _respond(_retrieve(Account, request.match_info["id"], "account"), data.get("expand"))


async def update_account(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/accounts/{id}")
    expand = data.pop("expand", None)
    _retrieve(Account, request.match_info["id"], "account")
    return _respond(Account._api_update(request.match_info["id"], **data), expand)


async def create_account_link(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/account_links")
    expand = data.pop("expand", None)
    return _respond(AccountLink(_base_url(request), **data), expand)


# --- Stripe API: transfers, reversals, disputes -----------------------------------------------


async def create_transfer(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/transfers")
    expand = data.pop("expand", None)
    return _respond(Transfer._api_create(**data), expand)


async def list_transfers(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/transfers")
    return _respond(Transfer._api_list(**data))


async def retrieve_transfer(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/transfers/{id}")
    return _respond(_retrieve(Transfer, request.match_info["id"], "transfer"), data.get("expand"))


async def create_reversal(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/transfers/{id}/reversals")
    expand = data.pop("expand", None)
    return _respond(TransferReversal._api_create_for(request.match_info["id"], **data), expand)


async def list_reversals(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/transfers/{id}/reversals")
    return _respond(TransferReversal._api_list_for(request.match_info["id"], **data))


async def list_disputes(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/disputes")
    return _respond(Dispute._api_list(**data))


async def retrieve_dispute(request: web.Request) -> web.Response:
    data = await _params(request, "/v1/disputes/{id}")
    return _respond(_retrieve(Dispute, request.match_info["id"], "dispute"), data.get("expand"))


# --- Test controls and the onboarding page (not Stripe's API) ---------------------------------


def open_onboarding_link(request: web.Request) -> web.StreamResponse:
    """The hosted onboarding page: opening it completes onboarding and goes back to return_url.

    A used or expired link goes to refresh_url, as Stripe's does; an unknown one is a 404.
    """
    link = store.get("account_link:" + request.match_info["id"])
    if link is None:
        return web.Response(status=404, text="This account link does not exist.\n")
    target = link._open()
    store.dump_to_disk()  # a GET: localstripe's middleware saves the store after writes only
    raise web.HTTPFound(target)


async def expire_onboarding_link(request: web.Request) -> web.Response:
    link = store.get("account_link:" + request.match_info["id"])
    if link is None:
        raise no_such("account link", request.match_info["id"])
    link.expires_at = link.created - 1
    return _respond(link)


async def adopt_account(request: web.Request) -> web.Response:
    """Create an Express account under a chosen `id` (`email`, `country`), onboarded; idempotent.

    For data made without Stripe (the demo's `seed_demo`): its accounts get
    the ids the database already names, so transfers to them work here.
    """
    data = await _control_params(request)
    account_id = data.get("id")
    if not isinstance(account_id, str) or not account_id.startswith("acct_"):
        raise bad_request("id must be an account id (acct_...)", param="id")
    account = store.get("account:" + account_id)
    if account is None:
        account = Account(
            type="express",
            country=data.get("country") or "US",
            email=data.get("email"),
            capabilities={"transfers": {"requested": "true"}},
            _standin_id=account_id,
        )
        account._complete_onboarding()
    return _respond(account)


async def enable_account(request: web.Request) -> web.Response:
    """Complete an account's onboarding without opening a link (seed data, tests)."""
    account = _retrieve(Account, request.match_info["id"], "account")
    account._complete_onboarding()
    return _respond(account)


async def restrict_account(request: web.Request) -> web.Response:
    """Stripe needs more from the account: payouts stop, `account.updated` is sent.

    Optional `currently_due` (a list, or names separated by commas) and
    `disabled_reason` (default `requirements.past_due`).
    """
    data = await _control_params(request)
    account = _retrieve(Account, request.match_info["id"], "account")
    due = data.get("currently_due") or ["individual.verification.document"]
    if isinstance(due, str):
        due = [name.strip() for name in due.split(",") if name.strip()]
    if not isinstance(due, list) or not all(isinstance(name, str) for name in due):
        raise bad_request("currently_due must be a list of requirement names", param="currently_due")
    account._restrict(due, data.get("disabled_reason") or "requirements.past_due")
    return _respond(account)


async def open_dispute(request: web.Request) -> web.Response:
    """The cardholder disputes a charge: `charge` (required), `amount`, `reason`; sends charge.dispute.created."""
    data = await _control_params(request)
    return _respond(Dispute._open(**data))


async def close_dispute(request: web.Request) -> web.Response:
    """The bank decides: `status` won or lost; sends charge.dispute.closed."""
    data = await _control_params(request)
    return _respond(Dispute._close(request.match_info["id"], **data))


# --- Middlewares ------------------------------------------------------------------------------

_IDEMPOTENT_PATHS = re.compile(r"^/v1/(accounts|account_links|transfers)(/|$)")


@dataclass(frozen=True)
class _Answer:
    request: tuple[str, str]
    status: int
    body: bytes


_answers: dict[str, _Answer] = {}


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stripe's idempotent requests for the Connect endpoints (see the module docstring)."""
    if request.method == "DELETE" and request.path == "/_config/data":
        _answers.clear()  # the store is flushed: forget what was answered from it
        return await handler(request)
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not _IDEMPOTENT_PATHS.match(request.path):
        return await handler(request)
    data = await localstripe_server.get_post_data(request, remove_auth=False) or {}
    fingerprint = (request.path, json.dumps(data, sort_keys=True, default=str))
    answer = _answers.get(key)
    if answer is not None:
        if answer.request != fingerprint:
            return json_response(
                {
                    "error": {
                        "type": "idempotency_error",
                        "message": (
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{key}' if you meant to execute a "
                            "different request."
                        ),
                    }
                },
                status=400,
            )
        return web.Response(
            body=answer.body,
            status=answer.status,
            content_type="application/json",
            headers={"Idempotency-Key": key, "Idempotent-Replayed": "true"},
        )
    response = await handler(request)
    if 200 <= response.status < 300 and isinstance(response, web.Response) and isinstance(response.body, bytes):
        _answers[key] = _Answer(fingerprint, response.status, response.body)
    response.headers["Idempotency-Key"] = key
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """localstripe's API-key check, except for `/_standin/` (a browser opens the onboarding page)."""
    if request.path.startswith("/_standin/"):
        return await handler(request)
    return await localstripe_server.auth_middleware(request, handler)


def _install() -> None:
    middlewares = app.middlewares
    middlewares[middlewares.index(localstripe_server.auth_middleware)] = auth_middleware
    middlewares.append(idempotency_middleware)

    router = app.router
    router.add_post("/v1/accounts", create_account)
    router.add_get("/v1/accounts/{id}", retrieve_account)
    router.add_post("/v1/accounts/{id}", update_account)
    router.add_post("/v1/account_links", create_account_link)
    router.add_post("/v1/transfers", create_transfer)
    router.add_get("/v1/transfers", list_transfers)
    router.add_get("/v1/transfers/{id}", retrieve_transfer)
    router.add_post("/v1/transfers/{id}/reversals", create_reversal)
    router.add_get("/v1/transfers/{id}/reversals", list_reversals)
    router.add_get("/v1/disputes", list_disputes)
    router.add_get("/v1/disputes/{id}", retrieve_dispute)

    # A HEAD (link preview, prefetch) must not complete onboarding.
    router.add_get("/_standin/onboarding/{id}", open_onboarding_link, allow_head=False)
    router.add_post("/_standin/onboarding/{id}/expire", expire_onboarding_link)
    router.add_post("/_standin/accounts", adopt_account)
    router.add_post("/_standin/accounts/{id}/enable", enable_account)
    router.add_post("/_standin/accounts/{id}/restrict", restrict_account)
    router.add_post("/_standin/disputes", open_dispute)
    router.add_post("/_standin/disputes/{id}/close", close_dispute)


_install()


# --- Entry point ------------------------------------------------------------------------------


def _listening_socket(port: int) -> socket.socket:
    """IPv4 and IPv6 when the machine has IPv6 (as localstripe listens), IPv4 only otherwise."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", port))
    except OSError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))  # noqa: S104 - as localstripe: reachable from containers
    return sock


def main(argv: Sequence[str] | None = None) -> None:
    """`python scripts/stripe_standin.py [--port N] [--from-scratch] [--public-url URL]`."""
    global _public_url
    parser = argparse.ArgumentParser(description="localstripe with Stripe Connect (development and tests only).")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--from-scratch", action="store_true", help="start empty (else reload localstripe's store)")
    parser.add_argument(
        "--public-url",
        help="base URL of the account links (default: the address each request came to)",
    )
    args = parser.parse_args(argv)
    _public_url = args.public_url.rstrip("/") if args.public_url else None

    if not args.from_scratch:
        store.try_load_from_disk()

    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logging.StreamHandler())
    web.run_app(app, sock=_listening_socket(args.port), access_log=logger)
