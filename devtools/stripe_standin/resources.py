"""Connect resources localstripe lacks: accounts, account links, transfers, reversals, disputes.

Built on localstripe's `StripeObject` and `store` (objects live in the same
store, are flushed by `DELETE /_config/data` and pickled with the rest) and its
`Event` + `schedule_webhook` (events are listed by `GET /v1/events` and sent
to the webhooks registered with `/_config/webhooks/{id}`). The shapes follow
Stripe's API reference, trimmed to the fields a platform reads.

Errors are localstripe's `UserError`, with Stripe's `code`/`param` where
Stripe gives one: a 400 for bad input, a 404 `resource_missing` for an
unknown id in the path.
"""

from __future__ import annotations

import time
from typing import Any

from localstripe.errors import UserError
from localstripe.resources import Event, StripeObject, random_id, store
from localstripe.webhooks import schedule_webhook

# Account links expire after a few minutes on Stripe.
ACCOUNT_LINK_TTL_SECONDS = 300

# What Stripe asks of a new Express account before it can be paid.
INDIVIDUAL_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "external_account",
    "individual.dob.day",
    "individual.dob.month",
    "individual.dob.year",
    "individual.email",
    "individual.first_name",
    "individual.last_name",
    "individual.phone",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]
COMPANY_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "company.address.city",
    "company.address.line1",
    "company.address.postal_code",
    "company.name",
    "company.tax_id",
    "external_account",
    "representative.first_name",
    "representative.last_name",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]
# What a restricted account is asked for by default (`/_standin/accounts/{id}/restrict`).
RESTRICTION_REQUIREMENTS = ["individual.verification.document"]

ACCOUNT_TYPES = ("express", "standard", "custom")
BUSINESS_TYPES = ("individual", "company", "non_profit", "government_entity")
DISPUTE_REASONS = (
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "noncompliant",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
DISPUTE_CLOSED_STATUSES = ("won", "lost")


# --- Helpers ----------------------------------------------------------------------------------


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> UserError:
    contents: dict[str, Any] = {}
    if param:
        contents["param"] = param
    if code:
        contents["code"] = code
    return UserError(400, message, contents)


def no_such(kind: str, object_id: str, *, param: str = "id", status: int = 404) -> UserError:
    return UserError(status, f"No such {kind}: '{object_id}'", {"code": "resource_missing", "param": param})


def positive_int(value: Any, param: str, *, required: bool = True) -> int | None:
    """Stripe's integer parsing: the form value "1000" or the JSON number 1000, at least 1."""
    if value is None or value == "":
        if required:
            raise bad_request(f"Missing required param: {param}.", param=param, code="parameter_missing")
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"Invalid integer: {value}", param=param, code="parameter_invalid_integer") from None
    if isinstance(value, float) or number < 1:
        raise bad_request("Invalid positive integer", param=param, code="parameter_invalid_integer")
    return number


def boolean(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def optional_str(value: Any, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"Invalid string: {value!r}", param=param, code="parameter_invalid_string")
    return value


def required_str(value: Any, param: str) -> str:
    if value is None or value == "":
        raise bad_request(f"Missing required param: {param}.", param=param, code="parameter_missing")
    return optional_str(value, param) or ""


def merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's metadata update: keys are set, an empty value deletes its key, others stay."""
    if update is None or update == "":
        return current if update is None else {}
    if not isinstance(update, dict):
        raise bad_request("Invalid hash", param="metadata", code="parameter_invalid_hash")
    merged = dict(current)
    for key, value in update.items():
        if value in ("", None):
            merged.pop(key, None)
        else:
            merged[str(key)] = str(value)
    return merged


def emit(event_type: str, obj: StripeObject, *, account: str | None = None, previous: dict[str, Any] | None = None):
    """Record an event (listed by GET /v1/events) and send it to the registered webhooks.

    `account` marks an event that happened on a connected account, as Stripe
    sends them to the platform's Connect endpoints; `previous` becomes
    `data.previous_attributes` of an `*.updated` event.
    """
    event = Event(event_type, obj)
    if account is not None:
        event.account = account
    if previous:
        event.data["previous_attributes"] = previous
    schedule_webhook(event)
    return event


def list_object(url: str, items: list[StripeObject], *, limit: Any = None, starting_after: Any = None):
    """A Stripe list of `items` (newest first), one page."""
    items = sorted(items, key=lambda item: item.created, reverse=True)
    if starting_after:
        ids = [item.id for item in items]
        if starting_after in ids:
            items = items[ids.index(starting_after) + 1 :]
    size = positive_int(limit, "limit", required=False) or 10
    page = items[:size]
    return ListPage(url, [item._export() for item in page], has_more=len(items) > size)


class ListPage:
    """A finished list page (localstripe's List keeps live objects; this one is exported already)."""

    def __init__(self, url: str, data: list[dict[str, Any]], *, has_more: bool) -> None:
        self.url = url
        self.data = data
        self.has_more = has_more

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return {"object": "list", "url": self.url, "data": self.data, "has_more": self.has_more}


def _objects(kind: str) -> list[Any]:
    prefix = kind + ":"
    return [value for key, value in store.items() if key.startswith(prefix)]


# --- Accounts ---------------------------------------------------------------------------------


class Account(StripeObject):
    """A connected account. Starts unverified; an account link (or a test control) completes it."""

    object = "account"
    _id_prefix = "acct_"

    def __init__(
        self,
        type=None,  # noqa: A002 - Stripe's parameter name
        country=None,
        email=None,
        business_type=None,
        capabilities=None,
        metadata=None,
        default_currency=None,
        business_profile=None,
        controller=None,
        _standin_id=None,
        **ignored,
    ):
        if type is None and controller is None:
            raise bad_request("Missing required param: type.", param="type", code="parameter_missing")
        if type is not None and type not in ACCOUNT_TYPES:
            raise bad_request(f"Invalid type: must be one of {', '.join(ACCOUNT_TYPES)}", param="type")
        if business_type is not None and business_type not in BUSINESS_TYPES:
            raise bad_request(
                f"Invalid business_type: must be one of {', '.join(BUSINESS_TYPES)}", param="business_type"
            )
        country = optional_str(country, "country") or "US"
        if len(country) != 2:
            raise bad_request(f"Invalid country: {country}", param="country")
        email = optional_str(email, "email")
        requested = self._requested_capabilities(capabilities)
        metadata = merge_metadata({}, metadata)

        # All exceptions must be raised before this point (the constructor stores the object).
        # `_standin_id`: an id chosen by the caller (the /_standin/accounts control: demo data made offline).
        super().__init__(id=_standin_id or "acct_" + random_id(16))
        self.type = type or "custom"
        self.country = country.upper()
        self.email = email
        self.business_type = business_type
        self.business_profile = business_profile if isinstance(business_profile, dict) else {}
        self.default_currency = (optional_str(default_currency, "default_currency") or "").lower() or (
            "usd" if self.country == "US" else "eur"
        )
        self.metadata = metadata
        self.capabilities = dict.fromkeys(requested, "inactive")
        self.details_submitted = False
        self.charges_enabled = False
        self.payouts_enabled = False
        due = COMPANY_REQUIREMENTS if business_type == "company" else INDIVIDUAL_REQUIREMENTS
        self.requirements = self._requirements(list(due), "requirements.past_due")
        self.future_requirements = self._requirements([], None)

    @staticmethod
    def _requested_capabilities(capabilities: Any) -> list[str]:
        if capabilities is None:
            return []
        if not isinstance(capabilities, dict):
            raise bad_request("Invalid hash", param="capabilities", code="parameter_invalid_hash")
        requested = []
        for name, options in capabilities.items():
            if not isinstance(options, dict) or set(options) - {"requested"}:
                raise bad_request(f"Invalid capabilities[{name}]", param=f"capabilities[{name}]")
            if boolean(options.get("requested")):
                requested.append(name)
        return requested

    @staticmethod
    def _requirements(due: list[str], disabled_reason: str | None) -> dict[str, Any]:
        return {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": list(due),
            "disabled_reason": disabled_reason,
            "errors": [],
            "eventually_due": list(due),
            "past_due": list(due),
            "pending_verification": [],
        }

    def _snapshot(self) -> dict[str, Any]:
        return {
            "capabilities": dict(self.capabilities),
            "charges_enabled": self.charges_enabled,
            "details_submitted": self.details_submitted,
            "email": self.email,
            "metadata": dict(self.metadata),
            "payouts_enabled": self.payouts_enabled,
            "requirements": dict(self.requirements),
        }

    def _changed_since(self, before: dict[str, Any]) -> dict[str, Any]:
        after = self._snapshot()
        return {key: value for key, value in before.items() if after[key] != value}

    def _emit_updated(self, before: dict[str, Any]) -> None:
        emit("account.updated", self, account=self.id, previous=self._changed_since(before))

    def _transfers_enabled(self) -> bool:
        return self.capabilities.get("transfers") == "active"

    @classmethod
    def _api_update(cls, id, **data):  # noqa: A002
        account = cls._api_retrieve(id)
        before = account._snapshot()
        requested = cls._requested_capabilities(data.get("capabilities"))
        if data.get("business_type") is not None and data["business_type"] not in BUSINESS_TYPES:
            raise bad_request(
                f"Invalid business_type: must be one of {', '.join(BUSINESS_TYPES)}", param="business_type"
            )
        metadata = merge_metadata(account.metadata, data.get("metadata"))
        email = optional_str(data.get("email"), "email")
        account.metadata = metadata
        if email is not None:
            account.email = email
        if data.get("business_type") is not None:
            account.business_type = data["business_type"]
        if isinstance(data.get("business_profile"), dict):
            account.business_profile = {**account.business_profile, **data["business_profile"]}
        for name in requested:
            account.capabilities.setdefault(name, "active" if account.details_submitted else "inactive")
        if account._changed_since(before):
            account._emit_updated(before)
        return account

    @classmethod
    def _api_delete(cls, id):  # noqa: A002
        raise UserError(405, "Method Not Allowed")

    def _complete_onboarding(self) -> None:
        """What the merchant finishing Stripe's hosted onboarding does: everything enabled."""
        before = self._snapshot()
        self.details_submitted = True
        self.charges_enabled = True
        self.payouts_enabled = True
        self.capabilities = dict.fromkeys(self.capabilities or ["transfers"], "active")
        self.requirements = self._requirements([], None)
        self._emit_updated(before)

    def _restrict(self, due: list[str], disabled_reason: str) -> None:
        """Stripe needs more information: payouts and transfers stop until it is given."""
        before = self._snapshot()
        self.payouts_enabled = False
        self.capabilities = dict.fromkeys(self.capabilities or ["transfers"], "inactive")
        self.requirements = self._requirements(due, disabled_reason)
        self._emit_updated(before)


class AccountLink(StripeObject):
    """A single-use onboarding URL, pointing at the stand-in's `/_standin/onboarding/{id}`."""

    object = "account_link"
    _id_prefix = "acctlink_"

    def __init__(self, base_url, account=None, refresh_url=None, return_url=None, type=None, **ignored):  # noqa: A002
        account = required_str(account, "account")
        if store.get("account:" + account) is None:
            raise no_such("account", account, param="account", status=400)
        link_type = required_str(type, "type")
        if link_type not in ("account_onboarding", "account_update"):
            raise bad_request("Invalid type: must be one of account_onboarding, account_update", param="type")
        refresh_url = required_str(refresh_url, "refresh_url")
        return_url = required_str(return_url, "return_url")
        for name, url in (("refresh_url", refresh_url), ("return_url", return_url)):
            if not url.startswith(("http://", "https://")):
                raise bad_request(f"Not a valid URL: {url}", param=name, code="url_invalid")

        super().__init__(id="acctlink_" + random_id(24))
        self.account = account
        self.type = link_type
        self.refresh_url = refresh_url
        self.return_url = return_url
        self.expires_at = self.created + ACCOUNT_LINK_TTL_SECONDS
        self.url = f"{base_url.rstrip('/')}/_standin/onboarding/{self.id}"
        self.used = False

    def _export(self, expand=None):
        return {"object": "account_link", "created": self.created, "expires_at": self.expires_at, "url": self.url}

    def _usable(self) -> bool:
        return not self.used and time.time() < self.expires_at

    def _open(self) -> str:
        """Follow the link as the merchant would: complete onboarding, answer where to go next."""
        if not self._usable():
            return self.refresh_url
        self.used = True
        Account._api_retrieve(self.account)._complete_onboarding()
        return self.return_url


# --- Transfers --------------------------------------------------------------------------------


class Transfer(StripeObject):
    """Money sent from the platform's balance to a connected account, funded by one charge."""

    object = "transfer"
    _id_prefix = "tr_"

    def __init__(
        self,
        amount=None,
        currency=None,
        destination=None,
        source_transaction=None,
        transfer_group=None,
        metadata=None,
        description=None,
        source_type=None,
        **ignored,
    ):
        amount = positive_int(amount, "amount")
        currency = required_str(currency, "currency").lower()
        destination = required_str(destination, "destination")
        source_transaction = optional_str(source_transaction, "source_transaction")
        transfer_group = optional_str(transfer_group, "transfer_group")
        description = optional_str(description, "description")
        metadata = merge_metadata({}, metadata)
        if source_type is not None and source_type not in ("bank_account", "card", "fpx"):
            raise bad_request("Invalid source_type", param="source_type")

        account = store.get("account:" + destination)
        if account is None:
            raise no_such("destination", destination, param="destination", status=400)
        if not account._transfers_enabled():
            raise bad_request(
                "Your destination account needs to have at least one of the following capabilities "
                "enabled: transfers, crypto_transfers, legacy_payments",
                param="destination",
                code="insufficient_capabilities_for_transfer",
            )
        if source_transaction is not None:
            charge = store.get("charge:" + source_transaction)
            if charge is None:
                raise no_such("charge", source_transaction, param="source_transaction", status=400)
            if charge.status != "succeeded" or not getattr(charge, "captured", True):
                raise bad_request(
                    f"The charge {source_transaction} has not succeeded: it cannot fund a transfer.",
                    param="source_transaction",
                )
            if charge.currency.lower() != currency:
                raise bad_request(
                    f"The currency of source_transaction's balance transaction ({charge.currency.lower()}) "
                    f"must be the same as the transfer currency ({currency})",
                    param="currency",
                )
            left = charge.amount - transferred_from(source_transaction)
            if amount > left:
                raise bad_request(
                    f"The transfer amount ({amount}) exceeds what is left of the source transaction "
                    f"{source_transaction} ({left}).",
                    param="amount",
                    code="amount_too_large",
                )

        super().__init__(id="tr_" + random_id(24))
        self.amount = amount
        self.amount_reversed = 0
        self.currency = currency
        self.description = description
        self.destination = destination
        self.destination_payment = "py_" + random_id(24)
        self.metadata = metadata
        self.reversed = False
        self.source_transaction = source_transaction
        self.source_type = source_type or "card"
        self.transfer_group = transfer_group
        self.balance_transaction = None

    @classmethod
    def _api_create(cls, **data):
        transfer = cls(**data)
        emit("transfer.created", transfer)
        return transfer

    @classmethod
    def _api_update(cls, id, **data):  # noqa: A002
        raise UserError(405, "Method Not Allowed")

    @classmethod
    def _api_delete(cls, id):  # noqa: A002
        raise UserError(405, "Method Not Allowed")

    @property
    def reversals(self) -> dict[str, Any]:
        mine = sorted(
            (r for r in _objects("transfer_reversal") if r.transfer == self.id), key=lambda r: r.created, reverse=True
        )
        return {
            "object": "list",
            "data": [r._export() for r in mine],
            "has_more": False,
            "total_count": len(mine),
            "url": f"/v1/transfers/{self.id}/reversals",
        }

    @classmethod
    def _api_list(cls, *, destination=None, transfer_group=None, limit=None, starting_after=None, **unsupported):
        _refuse_unsupported(unsupported)
        items = [
            t
            for t in _objects("transfer")
            if (destination is None or t.destination == destination)
            and (transfer_group is None or t.transfer_group == transfer_group)
        ]
        return list_object("/v1/transfers", items, limit=limit, starting_after=starting_after)


def transferred_from(charge_id: str) -> int:
    """What transfers funded by this charge still hold (reversed amounts come back to the platform)."""
    return sum(t.amount - t.amount_reversed for t in _objects("transfer") if t.source_transaction == charge_id)


class TransferReversal(StripeObject):
    """Money taken back from a connected account, part or all of one transfer."""

    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, transfer, amount=None, metadata=None, description=None, refund_application_fee=None, **ignored):
        amount = positive_int(amount, "amount", required=False)
        metadata = merge_metadata({}, metadata)
        left = transfer.amount - transfer.amount_reversed
        if left <= 0:
            raise bad_request(f"Transfer {transfer.id} is already fully reversed.", code="transfer_already_reversed")
        if amount is None:
            amount = left
        if amount > left:
            raise bad_request(
                f"The reversal amount ({amount}) is greater than what is left of transfer {transfer.id} ({left}).",
                param="amount",
                code="amount_too_large",
            )

        super().__init__(id="trr_" + random_id(24))
        self.amount = amount
        self.currency = transfer.currency
        self.metadata = metadata
        self.transfer = transfer.id
        self.destination_payment_refund = "pyr_" + random_id(24)
        self.source_refund = None
        self.balance_transaction = None

    @classmethod
    def _api_create_for(cls, transfer_id: str, **data):
        transfer = store.get("transfer:" + transfer_id)
        if transfer is None:
            raise no_such("transfer", transfer_id)
        reversal = cls(transfer, **data)
        transfer.amount_reversed += reversal.amount
        transfer.reversed = transfer.amount_reversed >= transfer.amount
        emit("transfer.reversed", transfer)
        return reversal

    @classmethod
    def _api_list_for(cls, transfer_id: str, *, limit=None, starting_after=None, **unsupported):
        _refuse_unsupported(unsupported)
        if store.get("transfer:" + transfer_id) is None:
            raise no_such("transfer", transfer_id)
        items = [r for r in _objects("transfer_reversal") if r.transfer == transfer_id]
        return list_object(f"/v1/transfers/{transfer_id}/reversals", items, limit=limit, starting_after=starting_after)


# --- Disputes ---------------------------------------------------------------------------------


class Dispute(StripeObject):
    """A cardholder's dispute of a charge; opened and closed by test controls, as the bank would."""

    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge=None, amount=None, reason=None, **unsupported):
        _refuse_unsupported(unsupported)
        charge_id = required_str(charge, "charge")
        charge_obj = store.get("charge:" + charge_id)
        if charge_obj is None:
            raise no_such("charge", charge_id, param="charge", status=400)
        if charge_obj.status != "succeeded":
            raise bad_request(f"The charge {charge_id} has not succeeded: nothing to dispute.", param="charge")
        if getattr(charge_obj, "disputed", False):
            raise bad_request(f"The charge {charge_id} is already disputed.", param="charge")
        disputable = charge_obj.amount - charge_obj.amount_refunded
        amount = positive_int(amount, "amount", required=False) or disputable
        if amount > charge_obj.amount:
            raise bad_request(f"A dispute of {charge_id} cannot exceed {charge_obj.amount}.", param="amount")
        reason = reason or "fraudulent"
        if reason not in DISPUTE_REASONS:
            raise bad_request(f"Invalid reason: must be one of {', '.join(DISPUTE_REASONS)}", param="reason")

        super().__init__(id="dp_" + random_id(24))
        self.amount = amount
        self.currency = charge_obj.currency
        self.charge = charge_id
        self.payment_intent = charge_obj.payment_intent
        self.reason = reason
        self.status = "needs_response"
        self.metadata = {}
        self.evidence = {}
        self.evidence_details = {
            "due_by": self.created + 7 * 24 * 3600,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        }
        self.is_charge_refundable = False
        self.balance_transactions = []
        charge_obj.disputed = True

    @classmethod
    def _open(cls, **data):
        dispute = cls(**data)
        emit("charge.dispute.created", dispute)
        return dispute

    @classmethod
    def _close(cls, id, status=None, **unsupported):  # noqa: A002
        _refuse_unsupported(unsupported)
        dispute = cls._api_retrieve(id)
        if status not in DISPUTE_CLOSED_STATUSES:
            raise bad_request("Invalid status: must be won or lost", param="status")
        if dispute.status in DISPUTE_CLOSED_STATUSES:
            raise bad_request(f"Dispute {id} is already closed ({dispute.status}).")
        dispute.status = status
        emit("charge.dispute.closed", dispute)
        return dispute

    @classmethod
    def _api_list(cls, *, charge=None, payment_intent=None, limit=None, starting_after=None, **unsupported):
        _refuse_unsupported(unsupported)
        items = [
            d
            for d in _objects("dispute")
            if (charge is None or d.charge == charge) and (payment_intent is None or d.payment_intent == payment_intent)
        ]
        return list_object("/v1/disputes", items, limit=limit, starting_after=starting_after)


def _refuse_unsupported(params: dict[str, Any]) -> None:
    """A parameter Stripe has that the stand-in does not implement: say so rather than ignore it."""
    params = {key: value for key, value in params.items() if key != "expand"}
    if params:
        name = sorted(params)[0]
        raise bad_request(f"The Stripe stand-in does not support the parameter {name}.", param=name)
