"""A recording fake of Stripe's Connect endpoints, installed as the SDK's HTTP client (payments.gateway._http_client).

The real SDK builds and parses every request; only the HTTP exchange is
answered here, in Stripe's documented shapes: ``POST /v1/transfers`` (with
Stripe's idempotency: the same key answers the same transfer),
``GET /v1/transfers/{id}``, ``POST /v1/transfers/{id}/reversals``,
``GET /v1/disputes/{id}``, ``POST /v1/refunds``. While ``down`` (or for the
first ``failures`` calls) a request goes to a closed port: a real connection
failure (stripe.APIConnectionError), not a mock of the code under test.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe


def _form(post_data: Any) -> dict[str, str]:
    if not post_data:
        return {}
    text = post_data.decode() if isinstance(post_data, bytes) else str(post_data)
    return dict(parse_qsl(text, keep_blank_values=True))


def _metadata(form: dict[str, str]) -> dict[str, str]:
    return {key[len("metadata[") : -1]: value for key, value in form.items() if key.startswith("metadata[")}


class FakeConnectStripe(stripe.RequestsClient):
    def __init__(self, *, closed_url: str, failures: int = 0) -> None:
        super().__init__(timeout=5)
        self.closed_url = closed_url
        self.failures = failures
        self.down = False
        self.refuse_transfers = ""  # a message: POST /v1/transfers answers 400 with it
        self.refuse_reversals = ""
        self.fail_paths: dict[str, int] = {}  # path suffix -> how many of its next calls are refused
        self.on_transfer_create: Any = None  # called (without lock) before a transfer is answered
        self.calls: list[tuple[str, str, str | None, dict[str, str]]] = []
        self.transfers: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._seq = 0

    # --- what the tests read ---------------------------------------------------------------

    def posted(self, path_suffix: str) -> list[tuple[str | None, dict[str, str]]]:
        return [
            (key, form) for method, path, key, form in self.calls if method == "post" and path.endswith(path_suffix)
        ]

    def transfer_creates(self) -> list[tuple[str | None, dict[str, str]]]:
        return self.posted("/v1/transfers")

    def add_dispute(self, *, charge: str, amount: int, currency: str = "usd", status: str = "needs_response") -> str:
        with self._lock:
            self._seq += 1
            dispute_id = f"dp_fake{self._seq:06d}"
        self.disputes[dispute_id] = {
            "id": dispute_id,
            "object": "dispute",
            "amount": amount,
            "currency": currency,
            "charge": charge,
            "payment_intent": None,
            "reason": "fraudulent",
            "status": status,
            "livemode": False,
        }
        return dispute_id

    # --- the HTTP exchange -------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}_fake{self._seq:06d}"

    def _request_internal(self, method, url, headers, post_data, is_streaming):
        path = urlsplit(url).path
        key = (headers or {}).get("Idempotency-Key")
        form = _form(post_data)
        with self._lock:
            self.calls.append((method, path, key, form))
            failing = self.down or len(self.calls) <= self.failures
            for suffix, left in self.fail_paths.items():
                if left > 0 and path.endswith(suffix):
                    self.fail_paths[suffix] = left - 1
                    failing = True
        if failing:
            return super()._request_internal(method, self.closed_url + path, headers, post_data, is_streaming)
        if method == "post" and path == "/v1/transfers" and self.on_transfer_create is not None:
            hook, self.on_transfer_create = self.on_transfer_create, None
            hook()
        with self._lock:
            status, body = self._answer(method, path, key, form)
        return json.dumps(body).encode(), status, {"Request-Id": "req_fake"}

    def _error(self, status: int, message: str, code: str = "") -> tuple[int, dict[str, Any]]:
        return status, {"error": {"type": "invalid_request_error", "message": message, "code": code or None}}

    def _answer(self, method: str, path: str, key: str | None, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if key and method == "post" and key in self.by_key:
            return 200, self.by_key[key]  # Stripe answers a replayed key with the first answer
        parts = path.strip("/").split("/")
        if method == "post" and parts == ["v1", "transfers"]:
            if self.refuse_transfers:
                return self._error(400, self.refuse_transfers, "insufficient_capabilities_for_transfer")
            transfer = {
                "id": self._next_id("tr"),
                "object": "transfer",
                "amount": int(form["amount"]),
                "amount_reversed": 0,
                "currency": form["currency"],
                "destination": form["destination"],
                "source_transaction": form.get("source_transaction"),
                "transfer_group": form.get("transfer_group"),
                "metadata": _metadata(form),
                "reversed": False,
                "reversals": {"object": "list", "data": [], "has_more": False, "url": ""},
                "livemode": False,
            }
            self.transfers[transfer["id"]] = transfer
            if key:
                self.by_key[key] = transfer
            return 200, transfer
        if method == "get" and parts[:2] == ["v1", "transfers"] and len(parts) == 3:
            transfer = self.transfers.get(parts[2])
            return (200, transfer) if transfer else self._error(404, "No such transfer", "resource_missing")
        if method == "post" and parts[:2] == ["v1", "transfers"] and len(parts) == 4 and parts[3] == "reversals":
            transfer = self.transfers.get(parts[2])
            if transfer is None:
                return self._error(404, "No such transfer", "resource_missing")
            if self.refuse_reversals or transfer["reversed"]:
                return self._error(400, self.refuse_reversals or "Transfer already fully reversed.")
            reversal = {
                "id": self._next_id("trr"),
                "object": "transfer_reversal",
                "amount": transfer["amount"],
                "currency": transfer["currency"],
                "transfer": transfer["id"],
                "metadata": _metadata(form),
            }
            transfer["reversed"] = True
            transfer["amount_reversed"] = transfer["amount"]
            transfer["reversals"]["data"].append(reversal)
            if key:
                self.by_key[key] = reversal
            return 200, reversal
        if method == "get" and parts[:2] == ["v1", "disputes"] and len(parts) == 3:
            dispute = self.disputes.get(parts[2])
            return (200, dispute) if dispute else self._error(404, "No such dispute", "resource_missing")
        if method == "post" and parts == ["v1", "refunds"]:
            refund = {
                "id": self._next_id("re"),
                "object": "refund",
                "amount": int(form["amount"]),
                "payment_intent": form.get("payment_intent"),
                "status": "succeeded",
                "metadata": _metadata(form),
            }
            if key:
                self.by_key[key] = refund
            return 200, refund
        return self._error(404, f"Unrecognized request URL ({method.upper()}: {path})")
