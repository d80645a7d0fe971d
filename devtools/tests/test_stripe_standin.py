"""The Stripe stand-in (devtools/stripe_standin): Connect on top of localstripe, driven through the real SDK.

One stand-in for the module, started as the tests and `scripts/dev.py run` start
it (`start_localstripe`), with a tiny HTTP server that receives its signed
webhooks and doubles as the return/refresh pages of the account links.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import typing
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest
import stripe

from devtools.embedded import free_port, register_localstripe_webhook, start_localstripe, stop_process
from devtools.stripe_standin.params import ALLOWED_PARAMS

SECRET_KEY = "sk_test_StandinTests0123456789abcdef"
WEBHOOK_SECRET = "whsec_standin_tests_0123456789"
EVENTS = (
    "account.updated",
    "transfer.created",
    "transfer.reversed",
    "charge.dispute.created",
    "charge.dispute.closed",
)


class Receiver(http.server.ThreadingHTTPServer):
    """Records the webhooks POSTed to it (signature checked by the SDK) and the pages GET from it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.events: list[dict[str, Any]] = []
        self.pages: list[str] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def wait_for(
        self,
        event_type: str,
        object_id: str,
        *,
        where: typing.Callable[[dict[str, Any]], bool] = lambda obj: True,
        timeout: float = 6,
    ) -> dict[str, Any]:
        """The first event of `event_type` about `object_id` (matching `where`); sent about 1 s late."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                obj = event["data"]["object"]
                if event["type"] == event_type and obj["id"] == object_id and where(obj):
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no {event_type} event for {object_id} within {timeout} s: {self.events!r}")


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        event = stripe.Webhook.construct_event(body, self.headers["Stripe-Signature"], WEBHOOK_SECRET)
        self.server.events.append(event.to_dict())
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        self.server.pages.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"back on the platform")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    process, base_url = start_localstripe(free_port(), log=tmp_path_factory.mktemp("standin") / "standin.log")
    try:
        yield base_url
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def receiver(standin):
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    register_localstripe_webhook(standin, "standin-tests", server.url + "/webhook", WEBHOOK_SECRET, events=EVENTS)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def client(standin) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": standin}, max_network_retries=0)


def _post(url: str, data: dict[str, str] | None = None, *, key: str | None = None) -> tuple[int, dict[str, Any]]:
    """A raw form POST (what the SDK would never send, or a test control)."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data or {}).encode(), method="POST")  # noqa: S310
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a local http URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _new_account(client: stripe.StripeClient, **extra: Any) -> stripe.Account:
    return client.v1.accounts.create(
        params={
            "type": "express",
            "country": "DE",
            "email": "merchant@example.com",
            "capabilities": {"transfers": {"requested": True}},
            "business_type": "individual",
            "metadata": {"merchant_id": "42"},
            **extra,
        }
    )


def _enabled_account(client: stripe.StripeClient, standin: str) -> stripe.Account:
    account = _new_account(client)
    status, _ = _post(f"{standin}/_standin/accounts/{account.id}/enable")
    assert status == 200
    return account


def _paid_charge(client: stripe.StripeClient, amount: int = 5000, currency: str = "eur") -> str:
    """A succeeded card charge on the platform, made through localstripe's PaymentIntents."""
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    intent = client.v1.payment_intents.create(params={"amount": amount, "currency": currency})
    client.v1.payment_intents.update(intent.id, params={"payment_method": method.id})
    intent = client.v1.payment_intents.confirm(intent.id)
    assert intent.status == "succeeded"
    charge = intent.latest_charge
    return charge if isinstance(charge, str) else charge.id


def _onboarding_link(client: stripe.StripeClient, account_id: str, receiver: Receiver) -> stripe.AccountLink:
    return client.v1.account_links.create(
        params={
            "account": account_id,
            "refresh_url": f"{receiver.url}/refresh",
            "return_url": f"{receiver.url}/return",
            "type": "account_onboarding",
        }
    )


# --- Accounts and onboarding ------------------------------------------------------------------


def test_new_express_account_cannot_be_paid_until_onboarded(client):
    account = _new_account(client)

    assert account.id.startswith("acct_")
    assert account.type == "express"
    assert account.metadata.to_dict() == {"merchant_id": "42"}
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (False, False, False)
    assert {"external_account", "individual.first_name"} <= set(account.requirements.currently_due)
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert account.capabilities.transfers == "inactive"
    assert client.v1.accounts.retrieve(account.id).id == account.id


def test_opening_the_account_link_completes_onboarding_and_sends_account_updated(client, receiver):
    account = _new_account(client)
    link = _onboarding_link(client, account.id, receiver)
    assert link.object == "account_link"
    assert link.expires_at > link.created

    with urllib.request.urlopen(link.url, timeout=10) as response:  # noqa: S310 - the stand-in's own URL
        assert response.url == f"{receiver.url}/return"  # followed the 302 to return_url

    account = client.v1.accounts.retrieve(account.id)
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (True, True, True)
    assert account.requirements.currently_due == []
    assert account.requirements.disabled_reason is None
    assert account.capabilities.transfers == "active"
    event = receiver.wait_for("account.updated", account.id)
    assert event["account"] == account.id
    assert event["data"]["object"]["payouts_enabled"] is True
    assert event["data"]["previous_attributes"]["payouts_enabled"] is False


def test_a_used_or_expired_link_goes_to_refresh_url_and_an_unknown_one_is_404(client, standin, receiver):
    account = _new_account(client)
    used = _onboarding_link(client, account.id, receiver)
    urllib.request.urlopen(used.url, timeout=10).close()  # noqa: S310
    with urllib.request.urlopen(used.url, timeout=10) as response:  # noqa: S310
        assert response.url == f"{receiver.url}/refresh"

    other = _new_account(client)
    expired = _onboarding_link(client, other.id, receiver)
    link_id = expired.url.rsplit("/", 1)[1]
    assert _post(f"{standin}/_standin/onboarding/{link_id}/expire")[0] == 200
    with urllib.request.urlopen(expired.url, timeout=10) as response:  # noqa: S310
        assert response.url == f"{receiver.url}/refresh"
    assert client.v1.accounts.retrieve(other.id).payouts_enabled is False

    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{standin}/_standin/onboarding/acctlink_nope", timeout=10)  # noqa: S310
    assert error.value.code == 404


def test_restricting_an_account_stops_payouts_and_sends_account_updated(client, standin, receiver):
    account = _enabled_account(client, standin)

    status, body = _post(
        f"{standin}/_standin/accounts/{account.id}/restrict", {"currently_due": "individual.verification.document"}
    )

    assert status == 200
    account = client.v1.accounts.retrieve(account.id)
    assert account.payouts_enabled is False
    assert account.requirements.currently_due == ["individual.verification.document"]
    event = receiver.wait_for("account.updated", account.id, where=lambda obj: not obj["payouts_enabled"])
    assert event["data"]["previous_attributes"]["payouts_enabled"] is True
    assert body["requirements"]["disabled_reason"] == "requirements.past_due"


def test_updating_metadata_keeps_other_keys_and_an_empty_value_removes_one(client):
    account = _new_account(client, metadata={"merchant_id": "42", "note": "x"})

    account = client.v1.accounts.update(account.id, params={"metadata": {"note": "", "tier": "gold"}})

    assert account.metadata.to_dict() == {"merchant_id": "42", "tier": "gold"}


def test_unknown_account_is_404(client):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.accounts.retrieve("acct_doesnotexist")
    assert error.value.http_status == 404
    assert error.value.code == "resource_missing"


# --- Transfers and reversals ------------------------------------------------------------------


def test_the_same_idempotency_key_twice_makes_one_transfer(client, standin, receiver):
    account = _enabled_account(client, standin)
    charge = _paid_charge(client)
    params = {
        "amount": 4500,
        "currency": "eur",
        "destination": account.id,
        "source_transaction": charge,
        "transfer_group": "booking-1",
        "metadata": {"booking_id": "1"},
        "description": "Booking 1",
    }
    options: stripe.RequestOptions = {"idempotency_key": f"transfer-{uuid.uuid4()}"}

    first = client.v1.transfers.create(params=params, options=options)
    second = client.v1.transfers.create(params=params, options=options)

    assert first.id == second.id
    assert first.amount == 4500
    assert first.destination == account.id
    assert first.source_transaction == charge
    transfers = client.v1.transfers.list(params={"destination": account.id})
    assert [t.id for t in transfers.data] == [first.id]
    assert receiver.wait_for("transfer.created", first.id)["data"]["object"]["amount"] == 4500
    # A different request under the same key is Stripe's idempotency_error.
    with pytest.raises(stripe.IdempotencyError):
        client.v1.transfers.create(params={**params, "amount": 100}, options=options)


def test_transfers_cannot_exceed_what_is_left_of_the_source_charge(client, standin):
    account = _enabled_account(client, standin)
    charge = _paid_charge(client, amount=5000)
    client.v1.transfers.create(
        params={"amount": 3000, "currency": "eur", "destination": account.id, "source_transaction": charge}
    )

    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.transfers.create(
            params={"amount": 2001, "currency": "eur", "destination": account.id, "source_transaction": charge}
        )

    assert error.value.http_status == 400
    assert error.value.param == "amount"
    rest = client.v1.transfers.create(
        params={"amount": 2000, "currency": "eur", "destination": account.id, "source_transaction": charge}
    )
    assert rest.amount == 2000


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"amount": 0}, "amount"),
        ({"source_transaction": "ch_doesnotexist"}, "source_transaction"),
        ({"destination": "acct_doesnotexist"}, "destination"),
        ({"currency": "usd"}, "currency"),
    ],
)
def test_transfer_with_bad_input_is_400(client, standin, change, param):
    account = _enabled_account(client, standin)
    charge = _paid_charge(client)
    params = {"amount": 100, "currency": "eur", "destination": account.id, "source_transaction": charge, **change}

    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.transfers.create(params=params)

    assert error.value.http_status == 400
    assert error.value.param == param


def test_transfer_to_an_account_without_payouts_is_refused_and_its_key_works_once_enabled(client, standin):
    account = _new_account(client)
    charge = _paid_charge(client)
    params = {"amount": 100, "currency": "eur", "destination": account.id, "source_transaction": charge}
    options: stripe.RequestOptions = {"idempotency_key": f"transfer-{uuid.uuid4()}"}

    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.transfers.create(params=params, options=options)
    assert error.value.http_status == 400
    assert error.value.param == "destination"

    _post(f"{standin}/_standin/accounts/{account.id}/enable")
    assert client.v1.transfers.create(params=params, options=options).amount == 100
    _post(f"{standin}/_standin/accounts/{account.id}/restrict")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.create(params=params)


def test_reversals_take_back_part_then_the_rest_of_a_transfer(client, standin, receiver):
    account = _enabled_account(client, standin)
    charge = _paid_charge(client)
    transfer = client.v1.transfers.create(
        params={"amount": 1000, "currency": "eur", "destination": account.id, "source_transaction": charge}
    )
    key: stripe.RequestOptions = {"idempotency_key": f"reversal-{uuid.uuid4()}"}

    part = client.v1.transfers.reversals.create(transfer.id, params={"amount": 300}, options=key)
    again = client.v1.transfers.reversals.create(transfer.id, params={"amount": 300}, options=key)
    assert again.id == part.id
    assert (part.object, part.amount, part.transfer) == ("transfer_reversal", 300, transfer.id)
    after_part = client.v1.transfers.retrieve(transfer.id)
    assert (after_part.amount_reversed, after_part.reversed) == (300, False)

    rest = client.v1.transfers.reversals.create(transfer.id, params={"metadata": {"reason": "dispute"}})
    assert rest.amount == 700
    done = client.v1.transfers.retrieve(transfer.id)
    assert (done.amount_reversed, done.reversed) == (1000, True)
    assert {r.id for r in done.reversals.data} == {part.id, rest.id}
    assert receiver.wait_for("transfer.reversed", transfer.id)

    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 1})
    assert error.value.http_status == 400


# --- Disputes ---------------------------------------------------------------------------------


def test_a_dispute_opened_and_lost_sends_both_events(client, standin, receiver):
    charge_id = _paid_charge(client, amount=2500)

    status, opened = _post(f"{standin}/_standin/disputes", {"charge": charge_id, "reason": "fraudulent"})

    assert status == 200
    assert opened["id"].startswith("dp_")
    assert (opened["charge"], opened["amount"], opened["currency"]) == (charge_id, 2500, "eur")
    assert opened["payment_intent"].startswith("pi_")
    assert opened["status"] == "needs_response"
    created = receiver.wait_for("charge.dispute.created", opened["id"])
    assert created["data"]["object"]["charge"] == charge_id
    assert client.v1.disputes.retrieve(opened["id"]).status == "needs_response"
    assert _post(f"{standin}/_standin/disputes", {"charge": charge_id})[0] == 400  # one dispute per charge

    status, closed = _post(f"{standin}/_standin/disputes/{opened['id']}/close", {"status": "lost"})

    assert (status, closed["status"]) == (200, "lost")
    assert receiver.wait_for("charge.dispute.closed", opened["id"])["data"]["object"]["status"] == "lost"
    assert client.v1.disputes.retrieve(opened["id"]).status == "lost"
    assert _post(f"{standin}/_standin/disputes/{opened['id']}/close", {"status": "won"})[0] == 400


# --- Parameter names and authentication -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/v1/accounts", {"type": "express", "capabilities[transfers][requested]": "true", "colour": "red"}),
        ("/v1/account_links", {"account": "acct_x", "redirect_url": "http://x/"}),
        ("/v1/transfers", {"amount": "100", "currency": "eur", "destination": "acct_x", "source_charge": "ch_x"}),
        ("/v1/transfers/tr_x/reversals", {"amount": "1", "reason": "x"}),
    ],
)
def test_a_parameter_stripe_does_not_know_is_400(standin, path, data):
    unknown = [name for name in data if name.split("[")[0] not in ALLOWED_PARAMS[("POST", _route(path))]]

    status, body = _post(standin + path, data, key=SECRET_KEY)

    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"] == f"Received unknown parameter: {unknown[0]}"


def test_an_unknown_parameter_fails_through_the_sdk_too(client):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.accounts.create(params=typing.cast(Any, {"type": "express", "country_code": "DE"}))
    assert error.value.http_status == 400
    assert error.value.code == "parameter_unknown"
    assert error.value.param == "country_code"


def test_the_parameter_table_names_what_the_stripe_sdk_sends():
    """The SDK's generated params come from the same OpenAPI spec: a name added there must be in the table."""
    from stripe.params import (
        AccountCreateParams,
        AccountLinkCreateParams,
        AccountUpdateParams,
        DisputeListParams,
        TransferCreateParams,
        TransferCreateReversalParams,
        TransferListParams,
    )

    request_options = set(stripe.RequestOptions.__annotations__)
    expected = {
        ("POST", "/v1/accounts"): AccountCreateParams,
        ("POST", "/v1/accounts/{id}"): AccountUpdateParams,
        ("POST", "/v1/account_links"): AccountLinkCreateParams,
        ("POST", "/v1/transfers"): TransferCreateParams,
        ("GET", "/v1/transfers"): TransferListParams,
        ("POST", "/v1/transfers/{id}/reversals"): TransferCreateReversalParams,
        ("GET", "/v1/disputes"): DisputeListParams,
    }
    for endpoint, params in expected.items():
        assert ALLOWED_PARAMS[endpoint] == set(params.__annotations__) - request_options, endpoint


def test_the_api_needs_a_key_but_the_test_controls_do_not(standin):
    status, body = _post(f"{standin}/v1/accounts", {"type": "express"})
    assert status == 401
    assert _post(f"{standin}/_standin/accounts/acct_nope/enable")[0] == 404


def _route(path: str) -> str:
    return "/v1/transfers/{id}/reversals" if path.startswith("/v1/transfers/") else path


def test_an_account_adopted_under_a_chosen_id_is_onboarded_and_takes_transfers(standin, client):
    """Demo data names its accounts offline (seed_demo); the start command gives them to the stand-in."""
    account_id = f"acct_demo_{uuid.uuid4().hex[:8]}"
    status, adopted = _post(f"{standin}/_standin/accounts", {"id": account_id, "email": "demo@example.com"})
    assert status == 200
    assert (adopted["id"], adopted["payouts_enabled"], adopted["type"]) == (account_id, True, "express")
    assert _post(f"{standin}/_standin/accounts", {"id": account_id})[1]["created"] == adopted["created"]  # idempotent
    assert _post(f"{standin}/_standin/accounts", {"id": "not-an-account"})[0] == 400

    charge = _paid_charge(client)
    transfer = client.v1.transfers.create(
        params={"amount": 1000, "currency": "eur", "destination": account_id, "source_transaction": charge}
    )
    assert transfer.destination == account_id
