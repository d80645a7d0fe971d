"""Catalog API: themes and their slots. Thin: parse, scope, call one service, render."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from bookings import catalog_selectors
from bookings import services as booking_services
from bookwise import money
from bookwise.fields import AwareDateTimeField, parse_aware_query_param
from bookwise.openapi import ErrorSerializer
from bookwise.pagination import NoCountPagination
from bookwise.response_cache import AnonymousCachedReadsMixin
from catalog import api_rows, selectors, services
from catalog.limits import (
    MAX_CANCELLATION_CUTOFF_HOURS,
    MAX_CANCELLATION_HOURS_BEFORE,
    MAX_CANCELLATION_TIERS,
    MAX_CAPACITY,
    MAX_DURATION_MINUTES,
    MAX_MIN_PLAYERS,
    MAX_MIN_PLAYERS_DEADLINE_HOURS,
    MAX_PARTY,
    MAX_PRICE,
    MAX_PRICE_TIERS,
    MAX_REMINDER_OFFSET_HOURS,
    MAX_REMINDER_OFFSETS,
    PRICE_TIER_CODE_PATTERN,
    PRICE_TIER_LABEL_MAX_LENGTH,
    SCHEDULE_MAX_TIMES_PER_DAY,
    THEME_DESCRIPTION_MAX_LENGTH,
)
from catalog.minimum import slot_is_guaranteed
from catalog.models import BookingMode, Slot, Theme
from catalog.photo_api import ThemePhotoOutSerializer
from checkout.services import slot_cancel_and_refund
from merchants.permissions import user_approved_merchant, user_manages


class PriceTierSerializer(serializers.Serializer):
    """One ticket tier of a theme (catalog.services validates uniqueness and the rest)."""

    code = serializers.RegexField(
        PRICE_TIER_CODE_PATTERN, max_length=20, help_text="1-20 of a-z, 0-9, '-', '_'; unique per theme."
    )
    label = serializers.CharField(max_length=PRICE_TIER_LABEL_MAX_LENGTH)
    price = serializers.IntegerField(
        min_value=0, max_value=MAX_PRICE, help_text="Per ticket, in minor units; a slot's price does not change it."
    )


class CancellationTierSerializer(serializers.Serializer):
    """One step of a cancellation policy: cancelling at least `hours_before` the start refunds `refund_percent`."""

    hours_before = serializers.IntegerField(min_value=0, max_value=MAX_CANCELLATION_HOURS_BEFORE)
    refund_percent = serializers.IntegerField(min_value=0, max_value=100)


class ThemeOutSerializer(serializers.ModelSerializer):
    price_tiers = PriceTierSerializer(many=True, read_only=True)
    cancellation_policy = CancellationTierSerializer(many=True, read_only=True)
    reminder_offsets_hours = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    rating_avg = serializers.FloatField(read_only=True)
    merchant_name = serializers.CharField(source="merchant.name", read_only=True)
    city = serializers.CharField(source="merchant.city", read_only=True)

    class Meta:
        model = Theme
        fields = [
            "id",
            "merchant",
            "merchant_name",
            "city",
            "title",
            "description",
            "duration_minutes",
            "price",
            "currency",
            "min_party",
            "max_party",
            "cancellation_cutoff_hours",
            "rating_avg",
            "review_count",
            "is_active",
            "venue_street",
            "venue_postcode",
            "venue_city",
            "venue_country",
            "booking_mode",
            "private_price",
            "price_tiers",
            "min_players",
            "min_players_deadline_hours",
            "cancellation_policy",
            "reminder_offsets_hours",
        ]
        read_only_fields = fields


class ThemeDetailOutSerializer(ThemeOutSerializer):
    """A theme's own page (GET /themes/{id}/): also its photos, in the merchant's order (one more query)."""

    photos = ThemePhotoOutSerializer(many=True, read_only=True)

    class Meta(ThemeOutSerializer.Meta):
        fields = [*ThemeOutSerializer.Meta.fields, "photos"]
        read_only_fields = fields


class CurrencyField(serializers.CharField):
    """One of bookwise.money's supported currencies, any case in, lowercase out."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 10)
        kwargs.setdefault("help_text", f"ISO 4217 code, one of: {', '.join(money.SUPPORTED_CURRENCIES)}.")
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        try:
            return money.normalize_currency(value)
        except money.UnsupportedCurrency as exc:
            raise serializers.ValidationError(str(exc), code="unsupported_currency") from None


class ThemeInSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False, max_length=THEME_DESCRIPTION_MAX_LENGTH)
    duration_minutes = serializers.IntegerField(min_value=1, max_value=MAX_DURATION_MINUTES)
    price = serializers.IntegerField(
        min_value=0,
        max_value=MAX_PRICE,
        help_text="Per person, in the currency's minor unit: cents (2950 = 29.50 EUR), yen for JPY (5000 = ¥5,000).",
    )
    currency = CurrencyField(
        required=False, help_text="Default: the currency of the merchant's country (USD when none is known)."
    )
    min_party = serializers.IntegerField(min_value=1, max_value=MAX_PARTY, required=False, default=1)
    max_party = serializers.IntegerField(min_value=1, max_value=MAX_PARTY, required=False, default=6)
    cancellation_cutoff_hours = serializers.IntegerField(
        min_value=0, max_value=MAX_CANCELLATION_CUTOFF_HOURS, required=False, default=24
    )
    is_active = serializers.BooleanField(required=False, default=True)
    # Optional venue of the theme's own; blank fields mean the merchant's address.
    venue_street = serializers.CharField(max_length=200, allow_blank=True, required=False)
    venue_postcode = serializers.CharField(max_length=20, allow_blank=True, required=False)
    venue_city = serializers.CharField(max_length=100, allow_blank=True, required=False)
    venue_country = serializers.CharField(
        max_length=2, allow_blank=True, required=False, help_text="ISO 3166-1 alpha-2 code, e.g. PT."
    )
    # How it is sold (API.md "Theme and slot fields"); omitted on create = the model's defaults.
    booking_mode = serializers.ChoiceField(choices=BookingMode.choices, required=False)
    private_price = serializers.IntegerField(
        min_value=0,
        max_value=MAX_PRICE,
        allow_null=True,
        required=False,
        help_text="Private themes only: a flat price for the whole slot, in minor units; null = per person.",
    )
    price_tiers = serializers.ListField(child=PriceTierSerializer(), max_length=MAX_PRICE_TIERS, required=False)
    min_players = serializers.IntegerField(min_value=1, max_value=MAX_MIN_PLAYERS, required=False)
    min_players_deadline_hours = serializers.IntegerField(
        min_value=0, max_value=MAX_MIN_PLAYERS_DEADLINE_HOURS, required=False
    )
    cancellation_policy = serializers.ListField(
        child=CancellationTierSerializer(),
        max_length=MAX_CANCELLATION_TIERS,
        required=False,
        help_text="Refund tiers; [] = a full refund up to cancellation_cutoff_hours.",
    )
    reminder_offsets_hours = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_REMINDER_OFFSET_HOURS),
        max_length=MAX_REMINDER_OFFSETS,
        required=False,
        help_text="Reminder emails this many hours before the start, distinct, e.g. [24, 2]; [] = none.",
    )


SLOT_PRICE_HELP = (
    "Peak price overriding the theme's for this slot, in minor units: per person, or per slot for a private theme "
    "with a private_price (tier prices stay the theme's); null = the theme's."
)


class SlotOutSerializer(serializers.ModelSerializer):
    seats_left = serializers.SerializerMethodField()
    guaranteed = serializers.SerializerMethodField(
        help_text="True once the theme's min_players is reached (always, for a theme without a minimum)."
    )

    class Meta:
        model = Slot
        fields = ["id", "theme", "starts_at", "ends_at", "capacity", "seats_left", "status", "price", "guaranteed"]
        read_only_fields = fields

    def get_seats_left(self, slot: Slot) -> int:
        return catalog_selectors.seats_left_of(slot=slot)

    def get_guaranteed(self, slot: Slot) -> bool:
        # A list of one theme's slots passes the theme in the context: no query per slot.
        return slot_is_guaranteed(slot=slot, theme=self.context.get("theme") or slot.theme)


class SlotInSerializer(serializers.Serializer):
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField(required=False)
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_CAPACITY)
    price = serializers.IntegerField(
        min_value=0, max_value=MAX_PRICE, allow_null=True, required=False, help_text=SLOT_PRICE_HELP
    )


class SlotPatchSerializer(serializers.Serializer):
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_CAPACITY, required=False)
    price = serializers.IntegerField(
        min_value=0,
        max_value=MAX_PRICE,
        allow_null=True,
        required=False,
        help_text=SLOT_PRICE_HELP + " Changeable only while no booking holds seats (409 slot_has_bookings).",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError("Send capacity, price or both.")
        return attrs


class SlotBulkSerializer(serializers.Serializer):
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), min_length=1, max_length=7
    )
    times = serializers.ListField(
        child=serializers.TimeField(input_formats=["%H:%M"]), min_length=1, max_length=SCHEDULE_MAX_TIMES_PER_DAY
    )
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_CAPACITY)
    price = serializers.IntegerField(
        min_value=0, max_value=MAX_PRICE, allow_null=True, required=False, help_text=SLOT_PRICE_HELP
    )
    # The span (at most a year) and the two-year horizon are slot_schedule_plan's rules: 400 on end_date.


BULK_RESULT = inline_serializer(
    "SlotBulkResult", {"created": serializers.IntegerField(), "skipped": serializers.IntegerField()}
)


class ThemeListParams(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=200)
    merchant = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    city = serializers.CharField(required=False, max_length=100)
    min_price = serializers.IntegerField(required=False, min_value=0, max_value=MAX_PRICE)
    max_price = serializers.IntegerField(required=False, min_value=0, max_value=MAX_PRICE)
    available_from = AwareDateTimeField(required=False)
    available_to = AwareDateTimeField(required=False)
    ordering = serializers.ChoiceField(choices=list(selectors.THEME_ORDERINGS), required=False)
    currency = CurrencyField(
        required=False,
        help_text="With min_price, max_price or ordering=price/-price: list only themes priced in this currency "
        "(prices are then compared in it). Without it those filters compare the minor-unit numbers as they are. "
        f"One of: {', '.join(money.SUPPORTED_CURRENCIES)}.",
    )


def _ensure_owner(user, theme: Theme) -> None:
    if not user_manages(user, theme.merchant):
        raise PermissionDenied("Only the theme's merchant may do this.")


@extend_schema_view(
    list=extend_schema(
        parameters=[ThemeListParams, OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={
            200: ThemeOutSerializer(many=True),
            400: OpenApiResponse(description="Bad filter"),
            404: OpenApiResponse(description="Invalid page"),
        },
    ),
    retrieve=extend_schema(responses={200: ThemeDetailOutSerializer, 404: OpenApiResponse(description="Not found")}),
    create=extend_schema(request=ThemeInSerializer, responses={201: ThemeOutSerializer, 400: None, 403: None}),
    partial_update=extend_schema(
        request=ThemeInSerializer(partial=True), responses={200: ThemeOutSerializer, 400: None, 403: None, 404: None}
    ),
    destroy=extend_schema(responses={204: None, 403: None, 404: None}),
)
class ThemeViewSet(
    AnonymousCachedReadsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ThemeOutSerializer
    pagination_class = NoCountPagination
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    # Anonymous GETs answered from a short cache (CATALOG_CACHE_SECONDS, bookwise/response_cache.py): safe
    # because a join re-counts the slot's seats under its row lock, whatever the cached page said.
    anonymous_cached_actions = ("list", "retrieve", "slots")

    def get_queryset(self):
        if self.action == "list":
            params = ThemeListParams(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            data = params.validated_data
            return catalog_selectors.theme_list_filtered(
                filters=selectors.ThemeFilters(
                    search=data.get("search"),
                    merchant_id=data.get("merchant"),
                    city=data.get("city"),
                    min_price=data.get("min_price"),
                    max_price=data.get("max_price"),
                    available_from=data.get("available_from"),
                    available_to=data.get("available_to"),
                    ordering=data.get("ordering"),
                    currency=data.get("currency"),
                )
            )
        return catalog_selectors.theme_visible_to(user=self.request.user)

    def get_serializer_class(self):
        return ThemeDetailOutSerializer if self.action == "retrieve" else ThemeOutSerializer

    def list(self, request: Request, *args, **kwargs) -> Response:
        # ThemeOutSerializer's JSON built from plain rows (catalog/api_rows.py); the serializer stays the schema.
        page = self.paginate_queryset(api_rows.theme_values(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(api_rows.theme_rows(page))

    def get_permissions(self):
        if self.action in ("list", "retrieve", "slots", "metadata") and self.request.method in SAFE_METHODS:
            return [AllowAny()]
        return [IsAuthenticated()]

    def create(self, request: Request, *args, **kwargs) -> Response:
        merchant = user_approved_merchant(request.user)
        if merchant is None:
            raise PermissionDenied("Only approved merchants may create themes.")
        data = ThemeInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        theme = services.theme_create(merchant=merchant, **data.validated_data)
        return Response(ThemeOutSerializer(theme).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        theme = self.get_object()
        _ensure_owner(request.user, theme)
        data = ThemeInSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        theme = services.theme_update(theme=theme, **data.validated_data)
        return Response(ThemeOutSerializer(theme).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        theme = self.get_object()
        _ensure_owner(request.user, theme)
        services.theme_deactivate(theme=theme)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="Window start (with offset)"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="Window end (with offset)"),
        ],
        responses={200: SlotOutSerializer(many=True), 400: None, 404: None},
    )
    @extend_schema(
        methods=["POST"],
        request=SlotInSerializer,
        responses={201: SlotOutSerializer, 400: None, 403: None, 404: None, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=NoCountPagination)
    def slots(self, request: Request, pk=None) -> Response:
        theme = get_object_or_404(catalog_selectors.theme_visible_to(user=request.user), pk=pk)
        if request.method in ("GET", "HEAD"):
            qs = catalog_selectors.slot_list_for_theme(
                theme_id=theme.pk,
                start=parse_aware_query_param(request, "from"),
                end=parse_aware_query_param(request, "to"),
            )
            # SlotOutSerializer's JSON built from plain rows (catalog/api_rows.py).
            page = self.paginate_queryset(api_rows.slot_values(qs))
            return self.get_paginated_response(api_rows.slot_rows(page, theme=theme))
        _ensure_owner(request.user, theme)
        data = SlotInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = services.slot_create(theme=theme, **data.validated_data)
        return Response(SlotOutSerializer(slot).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SlotBulkSerializer, responses={201: BULK_RESULT, 400: None, 403: None, 404: None})
    @action(detail=True, methods=["post"], url_path="slots/bulk")
    def bulk(self, request: Request, pk=None) -> Response:
        theme = get_object_or_404(catalog_selectors.theme_visible_to(user=request.user), pk=pk)
        _ensure_owner(request.user, theme)
        data = SlotBulkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created, skipped = services.slot_bulk_create(theme=theme, **data.validated_data)
        return Response({"created": created, "skipped": skipped}, status=status.HTTP_201_CREATED)


@extend_schema_view(
    retrieve=extend_schema(responses={200: SlotOutSerializer, 404: None}),
    partial_update=extend_schema(
        request=SlotPatchSerializer,
        responses={200: SlotOutSerializer, 400: None, 403: None, 404: None, 409: ErrorSerializer},
    ),
)
class SlotViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = SlotOutSerializer
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return catalog_selectors.with_seats_left(catalog_selectors.slot_visible_to(user=self.request.user))

    def get_permissions(self):
        if self.action == "retrieve":
            return [AllowAny()]
        return [IsAuthenticated()]

    def _owned_slot(self) -> Slot:
        slot = self.get_object()
        _ensure_owner(self.request.user, slot.theme)
        return slot

    def partial_update(self, request: Request, pk=None) -> Response:
        slot = self._owned_slot()
        data = SlotPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = data.validated_data
        # Both changes or neither: each service locks the same slot row (nested: a savepoint).
        with transaction.atomic():
            if "price" in changes:
                slot = booking_services.slot_update_price(slot=slot, price=changes["price"])
            if "capacity" in changes:
                slot = booking_services.slot_update_capacity(slot=slot, capacity=changes["capacity"])
        return Response(SlotOutSerializer(slot).data)

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "SlotCancelResult", {"slot": SlotOutSerializer(), "cancelled_bookings": serializers.IntegerField()}
            ),
            403: None,
            404: None,
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        slot = self._owned_slot()
        slot, cancelled = slot_cancel_and_refund(slot=slot, by=request.user)
        return Response({"slot": SlotOutSerializer(slot).data, "cancelled_bookings": cancelled})
