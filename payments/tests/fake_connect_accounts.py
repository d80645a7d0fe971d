"""A small in-process Stripe Connect for unit tests: accounts and account links, behind the SDK's real client.

It replaces only the HTTP transport (``payments.gateway._http_client``): our code
builds real requests with the real ``stripe`` SDK, which parses real JSON answers.
The Connect stand-in (devtools/stripe_standin) plays the same part over HTTP for
end-to-end tests. Idempotency keys are honoured like Stripe does (same key: the
same object), so a test can count distinct objects.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

_ids = itertools.count(1)


class FakeConnect(stripe.RequestsClient):
    def __init__(self) -> None:
        super().__init__(timeout=5)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, str], str | None]] = []
        self.down = False  # answer 503 to everything, as Stripe does when it is in trouble
        self._lock = threading.Lock()

    # --- What a test does to the account, as Stripe's onboarding would ---------------------------

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        return self.update(
            account_id,
            details_submitted=True,
            charges_enabled=True,
            payouts_enabled=True,
            requirements={"currently_due": [], "past_due": [], "eventually_due": [], "disabled_reason": None},
        )

    def update(self, account_id: str, **fields: Any) -> dict[str, Any]:
        self.accounts[account_id].update(fields)
        return self.accounts[account_id]

    # --- The transport -------------------------------------------------------------------------

    def _request_internal(self, method, url, headers, post_data, is_streaming):
        path = urlsplit(url).path
        params = dict(parse_qsl(post_data.decode() if isinstance(post_data, bytes) else post_data or ""))
        key = (headers or {}).get("Idempotency-Key")
        with self._lock:
            self.calls.append((method.upper(), path, params, key))
            if self.down:
                return self._answer(503, {"error": {"type": "api_error", "message": "Stripe is down (test)."}})
            return self._route(method.upper(), path, params, key)

    def _answer(self, status: int, body: dict[str, Any]):
        return json.dumps(body), status, {"request-id": f"req_fake_{next(_ids)}"}

    def _route(self, method: str, path: str, params: dict[str, str], key: str | None):
        if method == "POST" and path == "/v1/accounts":
            if key and key in self.by_key:
                return self._answer(200, self.by_key[key])
            account = {
                "id": f"acct_fake{next(_ids):010d}",
                "object": "account",
                "type": params.get("type"),
                "country": params.get("country"),
                "email": params.get("email"),
                "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
                "capabilities": {"transfers": "inactive"},
                "charges_enabled": False,
                "payouts_enabled": False,
                "details_submitted": False,
                "requirements": {
                    "currently_due": ["business_type", "external_account", "tos_acceptance.date"],
                    "past_due": ["business_type", "external_account", "tos_acceptance.date"],
                    "eventually_due": [],
                    "disabled_reason": "requirements.past_due",
                },
            }
            self.accounts[account["id"]] = account
            if key:
                self.by_key[key] = account
            return self._answer(200, account)
        if method == "GET" and path.startswith("/v1/accounts/"):
            account = self.accounts.get(path.rsplit("/", 1)[1])
            if account is None:
                return self._answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}})
            return self._answer(200, account)
        if method == "POST" and path == "/v1/account_links":
            if params.get("account") not in self.accounts:
                return self._answer(400, {"error": {"type": "invalid_request_error", "message": "No such account"}})
            return self._answer(
                200,
                {
                    "object": "account_link",
                    "created": int(time.time()),
                    "expires_at": int(time.time()) + 300,
                    "url": f"https://connect.stripe.test/setup/e/{params['account']}/{next(_ids)}",
                },
            )
        return self._answer(404, {"error": {"type": "invalid_request_error", "message": f"{method} {path}"}})

    def posts(self, path: str) -> list[tuple[str, str, dict[str, str], str | None]]:
        return [call for call in self.calls if call[0] == "POST" and call[1] == path]
