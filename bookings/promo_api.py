"""Promo codes API (API.md "Promo codes"): a merchant's codes, their redemptions and revenue. Thin: bookings.promo."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import user_is_platform_admin
from bookings import promo
from bookings.models import PromoCode
from bookwise import money
from bookwise.fields import AwareDateTimeField
from bookwise.openapi import VALIDATION_ERROR, error_response
from bookwise.pagination import NewestFirstCursorPagination
from catalog.limits import MAX_PRICE
from merchants.permissions import managed_by_owner_q, user_approved_merchant


class PromoCodeOutSerializer(serializers.ModelSerializer):
    themes = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="[] = every theme.")
    revenue = serializers.IntegerField(
        read_only=True,
        default=0,
        help_text="Minor units paid with the code and not refunded (bookings ever confirmed).",
    )

    class Meta:
        model = PromoCode
        fields = [
            "id",
            "code",
            "percent_off",
            "amount_off",
            "currency",
            "valid_from",
            "valid_to",
            "max_redemptions",
            "redemptions",
            "is_active",
            "themes",
            "revenue",
            "created_at",
        ]
        read_only_fields = fields


class PromoCodeInSerializer(serializers.Serializer):
    code = serializers.RegexField(promo.PROMO_CODE_PATTERN, max_length=40, help_text=promo.PROMO_CODE_HELP)
    percent_off = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    amount_off = serializers.IntegerField(
        min_value=1, max_value=MAX_PRICE, required=False, allow_null=True, help_text="Minor units; needs currency."
    )
    currency = serializers.CharField(
        max_length=10,
        required=False,
        allow_blank=True,
        help_text=f"With amount_off: one of {', '.join(money.SUPPORTED_CURRENCIES)}.",
    )
    valid_from = AwareDateTimeField(required=False, allow_null=True)
    valid_to = AwareDateTimeField(required=False, allow_null=True)
    max_redemptions = serializers.IntegerField(
        min_value=1, max_value=promo.MAX_REDEMPTIONS, required=False, allow_null=True, help_text="null = no limit."
    )
    themes = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=500,
        help_text="Ids of your own themes; [] = every theme.",
    )
    is_active = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict) -> dict:
        if (attrs.get("percent_off") is None) == (attrs.get("amount_off") is None):
            raise serializers.ValidationError({"percent_off": ["Give either percent_off or amount_off."]})
        return attrs


class PromoCodeUpdateSerializer(serializers.Serializer):
    is_active = serializers.BooleanField(required=False, help_text="false pauses the code, true resumes it.")
    valid_to = AwareDateTimeField(required=False, allow_null=True)
    max_redemptions = serializers.IntegerField(
        min_value=1, max_value=promo.MAX_REDEMPTIONS, required=False, allow_null=True
    )


class ActsForPromoCodes(BasePermission):
    """Approved merchants for their own codes; admins may read and change any code (not create: they own none)."""

    message = "Only an approved merchant may manage promo codes."

    def has_permission(self, request, view) -> bool:
        if view.action == "metadata":  # OPTIONS: signed-in callers may read what the routes take
            return bool(request.user and request.user.is_authenticated)
        if view.action not in ("list", "create") and user_is_platform_admin(request.user):
            return True  # retrieve, partial_update (and a method not served: 405)
        return user_approved_merchant(request.user) is not None


_NOT_FOUND = OpenApiResponse(description="No such code among yours.")
_NOT_A_MERCHANT = OpenApiResponse(description="Only approved merchants (and, for one code, admins).")


@extend_schema_view(
    list=extend_schema(
        summary="Your promo codes",
        responses={
            200: PromoCodeOutSerializer(many=True),
            403: _NOT_A_MERCHANT,
            404: OpenApiResponse(description="Invalid cursor."),
        },
    ),
    retrieve=extend_schema(
        summary="One promo code", responses={200: PromoCodeOutSerializer, 403: _NOT_A_MERCHANT, 404: _NOT_FOUND}
    ),
)
class PromoCodeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [ActsForPromoCodes]
    serializer_class = PromoCodeOutSerializer
    pagination_class = NewestFirstCursorPagination
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        user = self.request.user
        qs = promo.promo_codes_annotated()
        if self.action in ("retrieve", "partial_update") and user_is_platform_admin(user):
            return qs
        return qs.filter(managed_by_owner_q(user))

    @extend_schema(
        summary="Create a promo code",
        request=PromoCodeInSerializer,
        responses={
            201: PromoCodeOutSerializer,
            400: VALIDATION_ERROR,
            403: _NOT_A_MERCHANT,
            409: error_response("`promo_code_exists`: codes are unique per merchant, ignoring case."),
        },
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        merchant = user_approved_merchant(request.user)
        if merchant is None:
            raise PermissionDenied("Only approved merchants may create promo codes.")
        data = PromoCodeInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = promo.promo_code_create(merchant=merchant, **data.validated_data)
        return Response(self._out(code.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Pause or resume a code, change its end or its maximum",
        request=PromoCodeUpdateSerializer,
        responses={200: PromoCodeOutSerializer, 400: VALIDATION_ERROR, 403: _NOT_A_MERCHANT, 404: _NOT_FOUND},
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        code = self.get_object()
        data = PromoCodeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promo.promo_code_update(code=code, **data.validated_data)
        return Response(self._out(code.pk))

    def _out(self, pk: int) -> dict:
        return PromoCodeOutSerializer(promo.promo_codes_annotated().get(pk=pk)).data
