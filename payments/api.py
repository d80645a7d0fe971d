"""Payments API: create (or get back) the PaymentIntent of a pending booking.

The webhook side is dj-stripe's view, not ours: see payments/services.py for
the whole flow and payments/webhooks.py for the receivers.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from bookwise.openapi import ErrorSerializer
from payments import selectors, services
from payments.models import Payment
from payments.throttles import PAY_THROTTLES

IDEMPOTENCY_KEY_MAX = 200


class PaymentCreateSerializer(serializers.Serializer):
    booking = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class PaymentOutSerializer(serializers.ModelSerializer):
    booking = serializers.IntegerField(source="booking_id", read_only=True)
    payment_intent_id = serializers.CharField(source="stripe_payment_intent_id", read_only=True)
    publishable_key = serializers.SerializerMethodField(help_text="For Stripe.js.")

    class Meta:
        model = Payment
        fields = [
            "id",
            "booking",
            "payment_intent_id",
            "client_secret",
            "amount",
            "currency",
            "status",
            "publishable_key",
        ]
        read_only_fields = fields

    def get_publishable_key(self, payment: Payment) -> str:
        return settings.STRIPE_PUBLISHABLE_KEY


class PaymentCreateView(GenericAPIView):
    """POST /payments/create/: the booking's one PaymentIntent, for Stripe.js.

    201 when this request created the intent (or repeats, with the same
    ``Idempotency-Key``, the request that did); 200 when it already existed.
    A booking is never charged twice, however often and concurrently this is
    called (see ``services.payment_intent_for_booking``). Throttled per user and
    per client IP (THROTTLE_PAY, shared with the portal's pay endpoint); 409
    ``too_many_attempts`` once the booking's card was refused too often.
    """

    permission_classes = [IsAuthenticated]
    serializer_class = PaymentCreateSerializer
    throttle_classes = list(PAY_THROTTLES)

    @extend_schema(
        operation_id="payments_create",
        request=PaymentCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="Repeating a request with the same key returns the same response; "
                "using it for another booking is refused (409 idempotency_key_reused).",
            )
        ],
        responses={
            200: PaymentOutSerializer,
            201: PaymentOutSerializer,
            400: None,
            401: None,
            404: ErrorSerializer,
            409: ErrorSerializer,
            429: OpenApiResponse(description="Too many payment requests; see `Retry-After`."),
            502: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        data = PaymentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client_key = request.headers.get("Idempotency-Key", "").strip()
        if len(client_key) > IDEMPOTENCY_KEY_MAX or not client_key.isprintable():
            raise ValidationError({"Idempotency-Key": [f"Use at most {IDEMPOTENCY_KEY_MAX} printable characters."]})
        booking = get_object_or_404(selectors.booking_payable_by(user=request.user), pk=data.validated_data["booking"])
        result = services.payment_intent_for_booking(
            booking_id=booking.pk, customer=request.user, client_key=client_key
        )
        return Response(
            PaymentOutSerializer(result.payment).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
