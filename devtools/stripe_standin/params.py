"""The request parameters Stripe accepts on the endpoints the stand-in adds.

Our own table of the top-level parameter names of each operation in Stripe's
published OpenAPI description (github.com/stripe/openapi, `openapi/spec3.json`,
the `requestBody` schema properties for POST and the `in: query` parameters for
GET), for the API version of the `stripe` SDK we pin (2026-08-26.dahlia; the
SDK's generated `stripe.params.*Params` classes come from the same spec, and
devtools/tests/test_stripe_standin.py checks the table against them so an SDK
upgrade that adds a name shows up). Only names, no types: the resources
validate the values they use.

Stripe refuses any other name with 400 `parameter_unknown`; so does the
stand-in, so a typo in our code fails in the tests rather than in production.
Nested keys (`capabilities[transfers][requested]`) are checked at their
top-level name (`capabilities`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localstripe.errors import UserError

ALLOWED_PARAMS: dict[tuple[str, str], frozenset[str]] = {
    # PostAccounts
    ("POST", "/v1/accounts"): frozenset(
        {
            "account_token",
            "business_profile",
            "business_type",
            "capabilities",
            "company",
            "controller",
            "country",
            "default_currency",
            "documents",
            "email",
            "expand",
            "external_account",
            "groups",
            "individual",
            "metadata",
            "settings",
            "tos_acceptance",
            "type",
        }
    ),
    # GetAccountsAccount
    ("GET", "/v1/accounts/{id}"): frozenset({"expand"}),
    # PostAccountsAccount
    ("POST", "/v1/accounts/{id}"): frozenset(
        {
            "account_token",
            "business_profile",
            "business_type",
            "capabilities",
            "company",
            "default_currency",
            "documents",
            "email",
            "expand",
            "external_account",
            "groups",
            "individual",
            "metadata",
            "settings",
            "tos_acceptance",
        }
    ),
    # PostAccountLinks
    ("POST", "/v1/account_links"): frozenset(
        {"account", "collect", "collection_options", "expand", "refresh_url", "return_url", "type"}
    ),
    # PostTransfers
    ("POST", "/v1/transfers"): frozenset(
        {
            "amount",
            "currency",
            "description",
            "destination",
            "expand",
            "metadata",
            "source_transaction",
            "source_type",
            "transfer_group",
        }
    ),
    # GetTransfers
    ("GET", "/v1/transfers"): frozenset(
        {"created", "destination", "ending_before", "expand", "limit", "starting_after", "transfer_group"}
    ),
    # GetTransfersTransfer
    ("GET", "/v1/transfers/{id}"): frozenset({"expand"}),
    # PostTransfersIdReversals
    ("POST", "/v1/transfers/{id}/reversals"): frozenset(
        {"amount", "description", "expand", "metadata", "refund_application_fee"}
    ),
    # GetTransfersIdReversals
    ("GET", "/v1/transfers/{id}/reversals"): frozenset({"ending_before", "expand", "limit", "starting_after"}),
    # GetDisputes
    ("GET", "/v1/disputes"): frozenset(
        {"charge", "created", "ending_before", "expand", "limit", "payment_intent", "starting_after"}
    ),
    # GetDisputesDispute
    ("GET", "/v1/disputes/{id}"): frozenset({"expand"}),
}


def check_params(method: str, route: str, data: Mapping[str, Any]) -> None:
    """Refuse a request naming a parameter the endpoint does not have, as Stripe does (400)."""
    allowed = ALLOWED_PARAMS[(method, route)]
    for name in data:
        if name not in allowed:
            raise UserError(
                400,
                f"Received unknown parameter: {name}",
                {"code": "parameter_unknown", "param": name},
            )
