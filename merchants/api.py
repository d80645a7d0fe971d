"""Merchant profiles over the API: apply, browse, approve, suspend.

Thin adapters: parse input, scope the queryset, call one service, render.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsPlatformAdmin
from bookwise.openapi import VALIDATION_ERROR, error_response
from bookwise.pagination import NewestFirstCursorPagination
from checkout.services import merchant_suspend
from merchants.models import BookingEmails, Merchant
from merchants.selectors import merchant_list_public, merchant_of, merchant_visible_to
from merchants.services import merchant_apply, merchant_approve, merchant_update_settings


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
        fields = (*MerchantOutputSerializer.Meta.fields, "booking_emails", "daily_schedule_email")
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


_UNAUTHENTICATED = OpenApiResponse(description="Missing, invalid or expired token.")
_NOT_ADMIN = OpenApiResponse(description="Only platform admins may do this.")
_NOT_FOUND = OpenApiResponse(description="No such merchant, or the caller may not see it.")


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
        if self.action in ("approve", "suspend"):
            return [IsPlatformAdmin()]
        if self.action in ("create", "me"):
            return [IsAuthenticated()]
        return [AllowAny()]

    def get_queryset(self):
        if self.action == "list":
            return merchant_list_public(city=self.request.query_params.get("city") or None)
        if self.action in ("approve", "suspend"):
            return Merchant.objects.all()
        return merchant_visible_to(user=self.request.user)

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
