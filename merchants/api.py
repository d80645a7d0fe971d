"""Merchant profiles over the API: apply, browse, approve, suspend.

Thin adapters: parse input, scope the queryset, call one service, render.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsPlatformAdmin, user_is_platform_admin
from bookwise.openapi import VALIDATION_ERROR, ErrorSerializer, error_response
from bookwise.pagination import NewestFirstCursorPagination
from checkout.services import merchant_suspend
from merchants.feeds import merchant_feed_rotate, merchant_feed_token, merchant_feed_url
from merchants.models import BookingEmails, Merchant, MerchantStatus
from merchants.permissions import user_approved_merchant
from merchants.selectors import merchant_list_public, merchant_of, merchant_visible_to
from merchants.services import (
    FEE_BPS_MAX,
    merchant_apply,
    merchant_approve,
    merchant_set_fee_bps,
    merchant_update_settings,
)
from merchants.widget import MAX_ORIGIN_LENGTH, MAX_WIDGET_ORIGINS
from payments import connect, payout_selectors
from payments.models import ConnectedAccount


class MerchantOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Merchant
        fields = (
            "id",
            "name",
            "description",
            "street",
            "postcode",
            "city",
            "country",
            "timezone",
            "status",
            "created_at",
        )
        read_only_fields = fields


class MerchantOwnSerializer(MerchantOutputSerializer):
    """The owner's view of their profile: also how they hear about bookings."""

    class Meta(MerchantOutputSerializer.Meta):
        fields = (*MerchantOutputSerializer.Meta.fields, "booking_emails", "daily_schedule_email", "widget_origins")
        read_only_fields = fields


class MerchantSettingsInputSerializer(serializers.Serializer):
    """What the owner may change (PATCH, every field optional); status fields are the admins'."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=5000, allow_blank=True, required=False)
    street = serializers.CharField(max_length=200, allow_blank=True, required=False)
    postcode = serializers.CharField(max_length=20, allow_blank=True, required=False)
    city = serializers.CharField(max_length=100, required=False)
    country = serializers.CharField(
        max_length=2, allow_blank=True, required=False, help_text="ISO 3166-1 alpha-2 code, e.g. PT."
    )
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA timezone, e.g. Europe/Paris.")
    booking_emails = serializers.ChoiceField(choices=BookingEmails.choices, required=False)
    daily_schedule_email = serializers.BooleanField(required=False)
    widget_origins = serializers.ListField(
        child=serializers.CharField(max_length=MAX_ORIGIN_LENGTH, trim_whitespace=False),
        max_length=MAX_WIDGET_ORIGINS,
        required=False,
        help_text='Origins of your own sites that may embed the booking widget, e.g. ["https://www.example.com"] '
        "(https; http only for localhost). 400 `invalid_widget_origin` otherwise.",
    )


class MerchantApplyInputSerializer(serializers.Serializer):
    """What an applicant may set. `status`, `owner` and anything else sent are ignored."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")
    city = serializers.CharField(max_length=100)
    timezone = serializers.CharField(max_length=64, help_text="IANA timezone, e.g. Europe/Paris.")
    # The venue address (optional): shown on theme pages, in booking emails and calendar files.
    street = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    postcode = serializers.CharField(max_length=20, allow_blank=True, required=False, default="")
    country = serializers.CharField(
        max_length=2, allow_blank=True, required=False, default="", help_text="ISO 3166-1 alpha-2 code, e.g. PT."
    )


class MerchantSuspendInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why: the merchant is told by email.")
    keep_bookings = serializers.BooleanField(
        default=True,
        help_text="true: the upcoming bookings stay (the owner still sees participants and marks attendance); "
        "false: they are all cancelled and refunded, each customer told by email.",
    )


class MerchantFeeInputSerializer(serializers.Serializer):
    """What an admin may change with PATCH /merchants/{id}/: the platform fee. Anything else sent is ignored."""

    fee_bps = serializers.IntegerField(
        min_value=0,
        max_value=FEE_BPS_MAX,
        allow_null=True,
        required=False,
        help_text="Platform fee in basis points (1000 = 10 %); null: the platform default (PLATFORM_FEE_BPS).",
    )


class MerchantAdminSerializer(MerchantOutputSerializer):
    """A merchant as admins see it after changing its fee."""

    fee_bps = serializers.IntegerField(read_only=True, allow_null=True, help_text="The override; null: default.")
    effective_fee_bps = serializers.IntegerField(read_only=True, help_text="The fee bookings are charged now.")

    class Meta(MerchantOutputSerializer.Meta):
        fields = (*MerchantOutputSerializer.Meta.fields, "fee_bps", "effective_fee_bps")
        read_only_fields = fields


class PayoutBalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    owed = serializers.IntegerField(help_text="What the platform still owes the merchant (minor units).")
    in_transit = serializers.IntegerField(help_text="Transfers recorded, not yet made at Stripe.")
    transferred = serializers.IntegerField(help_text="Sent to the merchant's Stripe account, net of reversals.")
    refunded = serializers.IntegerField(help_text="Given back to customers.")
    fees = serializers.IntegerField(help_text="The platform's fees.")


class PayoutsSerializer(serializers.Serializer):
    account_id = serializers.CharField(allow_null=True, help_text="The Stripe connected account (acct_...).")
    status = serializers.ChoiceField(choices=["none", "pending", "enabled", "restricted"])
    payouts_enabled = serializers.BooleanField()
    charges_enabled = serializers.BooleanField()
    requirements_due = serializers.ListField(child=serializers.CharField(), help_text="Stripe's codes.")
    requirements = serializers.ListField(child=serializers.CharField(), help_text="The same, in words.")
    fee_bps = serializers.IntegerField(help_text="The merchant's platform fee now (basis points).")
    balances = PayoutBalanceSerializer(many=True)


class StatementQuerySerializer(serializers.Serializer):
    """`?from=&to=`: days in the merchant's timezone, both included; by default this month up to today."""

    locals()["from"] = serializers.DateField(required=False)
    to = serializers.DateField(required=False)


class StatementLineSerializer(serializers.Serializer):
    booking = serializers.IntegerField()
    slot_starts_at = serializers.CharField(help_text="ISO 8601, in the merchant's timezone.")
    theme = serializers.CharField()
    currency = serializers.CharField()
    gross = serializers.IntegerField()
    fee = serializers.IntegerField()
    refunded = serializers.IntegerField()
    net = serializers.IntegerField()
    transfer_id = serializers.CharField(help_text="Stripe Transfer id; empty before the transfer.")
    transfer_status = serializers.CharField(help_text="pending, paid, failed, reversed; empty before the transfer.")


class StatementSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True, help_text="Always null: a statement is one page.")
    previous = serializers.CharField(allow_null=True)
    results = StatementLineSerializer(many=True)
    timezone = serializers.CharField()
    locals()["from"] = serializers.DateField()
    to = serializers.DateField()


class CalendarFeedSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The secret iCalendar feed URL (text/calendar) of the merchant's slots.")


class OnboardingLinkSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Stripe's Account Link: send the merchant's browser there.")


class StatementCSVRenderer(renderers.BaseRenderer):
    """`?format=csv`: the statement's lines, one row each, with the JSON lines' fields as columns."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        rows = data.get("results", []) if isinstance(data, dict) else data or []
        return payout_selectors.statement_csv(rows).encode(self.charset)


def payouts_data(merchant: Merchant) -> dict:
    """GET /merchants/{id}/payouts/ (and the portal's figures): the account and the balances."""
    account = ConnectedAccount.objects.filter(merchant=merchant).first()
    return {
        "account_id": account.stripe_account_id if account else None,
        "status": connect.payouts_status(account),
        "payouts_enabled": bool(account and account.payouts_enabled),
        "charges_enabled": bool(account and account.charges_enabled),
        "requirements_due": list(account.requirements_due) if account else [],
        "requirements": connect.requirement_words(account.requirements_due) if account else [],
        "fee_bps": merchant.effective_fee_bps,
        "balances": [vars(balance) for balance in payout_selectors.payout_balances(merchant=merchant)],
    }


class ActsForMerchant(BasePermission):
    """Approved merchants (for their own profile: the queryset) and platform admins; anyone else 403."""

    message = "Only the merchant's owner or a platform admin may do this."

    def has_permission(self, request, view) -> bool:
        return user_is_platform_admin(request.user) or user_approved_merchant(request.user) is not None


class IsApprovedMerchant(BasePermission):
    message = "Only an approved merchant may do this, for its own profile."

    def has_permission(self, request, view) -> bool:
        return user_approved_merchant(request.user) is not None


_UNAUTHENTICATED = OpenApiResponse(description="Missing, invalid or expired token.")
_NOT_ADMIN = OpenApiResponse(description="Only platform admins may do this.")
_NOT_FOUND = OpenApiResponse(description="No such merchant, or the caller may not see it.")
_NOT_OWNER = OpenApiResponse(description="Not an approved merchant.")


@extend_schema_view(
    list=extend_schema(
        summary="Approved merchants",
        parameters=[OpenApiParameter("city", str, description="Only merchants in this city (case-insensitive).")],
        responses={200: MerchantOutputSerializer(many=True), 404: OpenApiResponse(description="Invalid cursor.")},
    ),
    retrieve=extend_schema(
        summary="One merchant",
        description="Approved merchants are public; the owner and admins also see pending or suspended ones.",
        responses={200: MerchantOutputSerializer, 404: _NOT_FOUND},
    ),
)
class MerchantViewSet(viewsets.GenericViewSet):
    serializer_class = MerchantOutputSerializer
    pagination_class = NewestFirstCursorPagination
    lookup_value_regex = r"\d+"

    def get_permissions(self):
        if self.action in ("approve", "suspend", "partial_update"):
            return [IsPlatformAdmin()]
        if self.action in ("create", "me"):
            return [IsAuthenticated()]
        if self.action in ("payouts", "statement"):
            return [ActsForMerchant()]
        if self.action in ("payouts_onboarding", "calendar_feed"):
            return [IsApprovedMerchant()]
        return [AllowAny()]

    def get_queryset(self):
        if self.action == "list":
            return merchant_list_public(city=self.request.query_params.get("city") or None)
        if self.action in ("approve", "suspend", "partial_update"):
            return Merchant.objects.all()
        if self.action == "calendar_feed":
            # The owner's own feed only: another merchant's is out of sight (404), admins have none (403).
            return Merchant.objects.filter(owner=self.request.user, status=MerchantStatus.APPROVED)
        if self.action in ("payouts", "statement", "payouts_onboarding"):
            # Another merchant's payouts are out of sight (404); admins see every merchant's, but onboard none.
            if self.action != "payouts_onboarding" and user_is_platform_admin(self.request.user):
                return Merchant.objects.all()
            return Merchant.objects.filter(owner=self.request.user, status=MerchantStatus.APPROVED)
        return merchant_visible_to(user=self.request.user)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        # A refused `?format=csv` request still explains itself in JSON, as every API error does.
        if isinstance(getattr(self.request, "accepted_renderer", None), StatementCSVRenderer):
            self.request.accepted_renderer = renderers.JSONRenderer()
            self.request.accepted_media_type = "application/json"
        return response

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MerchantOutputSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(MerchantOutputSerializer(self.get_object()).data)

    @extend_schema(
        summary="Apply to become a merchant",
        request=MerchantApplyInputSerializer,
        responses={
            201: MerchantOutputSerializer,
            400: VALIDATION_ERROR,
            401: _UNAUTHENTICATED,
            409: error_response("`already_merchant`: one profile per user."),
        },
    )
    def create(self, request: Request) -> Response:
        data = MerchantApplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merchant = merchant_apply(user=request.user, **data.validated_data)
        return Response(MerchantOutputSerializer(merchant).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="The caller's own merchant profile",
        responses={200: MerchantOwnSerializer, 401: _UNAUTHENTICATED, 404: _NOT_FOUND},
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Change the caller's own profile: venue address, timezone, booking emails",
        request=MerchantSettingsInputSerializer,
        responses={200: MerchantOwnSerializer, 400: VALIDATION_ERROR, 401: _UNAUTHENTICATED, 404: _NOT_FOUND},
    )
    @action(detail=False, methods=["get", "patch"])
    def me(self, request: Request) -> Response:
        merchant = merchant_of(user=request.user)
        if merchant is None:
            raise NotFound("You have no merchant profile.")
        if request.method == "PATCH":
            data = MerchantSettingsInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            merchant = merchant_update_settings(merchant=merchant, **data.validated_data)
        return Response(MerchantOwnSerializer(merchant).data)

    @extend_schema(
        summary="Approve a merchant (admin)",
        description="pending or suspended -> approved; the owner's role becomes `merchant`. Idempotent.",
        request=None,
        responses={200: MerchantOutputSerializer, 401: _UNAUTHENTICATED, 403: _NOT_ADMIN, 404: _NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        merchant = merchant_approve(merchant=self.get_object(), by=request.user)
        return Response(MerchantOutputSerializer(merchant).data)

    @extend_schema(
        summary="Suspend a merchant (admin)",
        description="approved -> suspended, with a reason the merchant is emailed; the owner's role goes back to "
        "`customer` and the merchant's themes leave the public catalog. The upcoming bookings are kept or "
        "cancelled and refunded (`keep_bookings`). Idempotent.",
        request=MerchantSuspendInputSerializer,
        responses={
            200: MerchantOutputSerializer,
            401: _UNAUTHENTICATED,
            403: _NOT_ADMIN,
            404: _NOT_FOUND,
            409: error_response("`merchant_not_approved`: still pending."),
        },
    )
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str | None = None) -> Response:
        merchant = self.get_object()
        data = MerchantSuspendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merchant = merchant_suspend(merchant=merchant, by=request.user, **data.validated_data).merchant
        return Response(MerchantOutputSerializer(merchant).data)

    @extend_schema(
        summary="Set a merchant's platform fee (admin)",
        description="`fee_bps` in basis points (0-10000; null: the platform default). Only bookings confirmed "
        "afterwards pay the new fee. Other fields are ignored.",
        request=MerchantFeeInputSerializer,
        responses={
            200: MerchantAdminSerializer,
            400: VALIDATION_ERROR,
            401: _UNAUTHENTICATED,
            403: _NOT_ADMIN,
            404: _NOT_FOUND,
        },
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        merchant = self.get_object()
        data = MerchantFeeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "fee_bps" in data.validated_data:
            merchant = merchant_set_fee_bps(merchant=merchant, fee_bps=data.validated_data["fee_bps"], by=request.user)
        return Response(MerchantAdminSerializer(merchant).data)

    @extend_schema(
        summary="Payouts: the merchant's Stripe account and balances (owner, admin)",
        responses={
            200: PayoutsSerializer,
            401: _UNAUTHENTICATED,
            403: error_response("Not an approved merchant or an admin."),
            404: _NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"])
    def payouts(self, request: Request, pk: str | None = None) -> Response:
        return Response(PayoutsSerializer(payouts_data(self.get_object())).data)

    @extend_schema(
        operation_id="merchants_payouts_onboarding",
        summary="Start or continue payouts onboarding (owner)",
        description="Creates the merchant's Stripe Express account on the first call, then answers a new Stripe "
        "Account Link each time: send the merchant's browser to `url`.",
        request=None,
        responses={
            200: OnboardingLinkSerializer,
            401: _UNAUTHENTICATED,
            403: error_response("Not an approved merchant."),
            404: _NOT_FOUND,
            409: error_response("`merchant_not_approved`."),
            502: error_response("`payment_provider_error`: Stripe refused the request."),
            503: error_response("`payment_provider_unavailable`: Stripe cannot be reached; try again."),
        },
    )
    @action(detail=True, methods=["post"], url_path="payouts/onboarding", url_name="payouts-onboarding")
    def payouts_onboarding(self, request: Request, pk: str | None = None) -> Response:
        url = connect.payouts_onboarding_link(merchant=self.get_object())
        return Response({"url": url})

    @extend_schema(
        summary="Statement: one line per paid booking (owner, admin)",
        description="Bookings whose slot starts from `from` to `to` (days in the merchant's timezone, both "
        "included; at most 366 days; by default this month up to today). `?format=csv` answers the same lines "
        "as CSV.",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (YYYY-MM-DD)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (YYYY-MM-DD)."),
            OpenApiParameter("format", str, enum=["json", "csv"], description="csv: the lines as CSV."),
        ],
        responses={
            (200, "application/json"): StatementSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            (400, "application/json"): VALIDATION_ERROR,
            (401, "application/json"): ErrorSerializer,
            (403, "application/json"): ErrorSerializer,
            (404, "application/json"): ErrorSerializer,
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, StatementCSVRenderer])
    def statement(self, request: Request, pk: str | None = None) -> Response:
        merchant = self.get_object()
        query = StatementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        date_from, date_to = payout_selectors.statement_period(
            merchant=merchant, date_from=query.validated_data.get("from"), date_to=query.validated_data.get("to")
        )
        lines = payout_selectors.statement_lines(merchant=merchant, date_from=date_from, date_to=date_to)
        response = Response(
            {
                "next": None,
                "previous": None,
                "results": [payout_selectors.statement_row(line, merchant=merchant) for line in lines],
                "timezone": merchant.timezone,
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
            }
        )
        if isinstance(request.accepted_renderer, StatementCSVRenderer):
            response["Content-Disposition"] = (
                f'attachment; filename="statement-{merchant.pk}-{date_from.isoformat()}-{date_to.isoformat()}.csv"'
            )
        return response

    @extend_schema(
        methods=["GET"],
        operation_id="merchants_calendar_feed_retrieve",
        summary="The merchant's secret calendar feed URL (owner)",
        description="An iCalendar URL (outside /api/, the token in it is the credential) serving the merchant's "
        "slots of the last 7 days and ahead, each with who is booked. Created on the first call.",
        request=None,
        responses={200: CalendarFeedSerializer, 401: _UNAUTHENTICATED, 403: _NOT_OWNER, 404: _NOT_FOUND},
    )
    @extend_schema(
        methods=["POST"],
        operation_id="merchants_calendar_feed_rotate",
        summary="Rotate the calendar feed URL (owner)",
        description="A new secret URL; the old one answers 404 from now on.",
        request=None,
        responses={200: CalendarFeedSerializer, 401: _UNAUTHENTICATED, 403: _NOT_OWNER, 404: _NOT_FOUND},
    )
    @action(detail=True, methods=["get", "post"], url_path="calendar-feed", url_name="calendar-feed")
    def calendar_feed(self, request: Request, pk: str | None = None) -> Response:
        merchant = self.get_object()
        if request.method == "POST":
            token = merchant_feed_rotate(merchant=merchant)
        else:
            token = merchant_feed_token(merchant=merchant)
        return Response({"url": merchant_feed_url(token)})
