"""Bookings API: join a slot, my bookings, cancel, reschedule, participants, attendance."""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from bookings import api_rows, catalog_selectors, selectors, services
from bookings.models import Booking, BookingStatus
from bookings.throttles import JoinThrottle
from bookwise.openapi import ErrorSerializer
from bookwise.pagination import NewestFirstCursorPagination, SmallListPagination
from catalog.limits import MAX_PARTY, MAX_PRICE_TIERS
from catalog.models import Slot
from checkout.services import booking_cancel_and_refund, booking_reschedule
from merchants.permissions import serving_kept_bookings_q, user_serves_kept_bookings


class TicketSerializer(serializers.Serializer):
    """Tickets of one tier in a join: `{"tier": "adult", "quantity": 2}` (bookings.pricing validates them)."""

    tier = serializers.CharField(max_length=20, help_text="A code of the theme's price_tiers.")
    quantity = serializers.IntegerField(min_value=0, max_value=MAX_PARTY)


class BookingOutSerializer(serializers.ModelSerializer):
    tickets = TicketSerializer(many=True, read_only=True)
    theme = serializers.IntegerField(source="slot.theme_id", read_only=True)
    theme_title = serializers.CharField(source="slot.theme.title", read_only=True)
    starts_at = serializers.DateTimeField(source="slot.starts_at", read_only=True)

    class Meta:
        model = Booking
        fields = [
            "id",
            "slot",
            "theme",
            "theme_title",
            "starts_at",
            "party_size",
            "status",
            "amount",
            "currency",
            "expires_at",
            "created_at",
            "tickets",
            "discount",
            "refunded_amount",
        ]
        read_only_fields = fields


class JoinSerializer(serializers.Serializer):
    party_size = serializers.IntegerField(
        min_value=1, max_value=MAX_PARTY, required=False, help_text="Default 1. Themes with price_tiers: send tickets."
    )
    tickets = serializers.ListField(
        child=TicketSerializer(),
        max_length=MAX_PRICE_TIERS,
        required=False,
        help_text="Themes with price_tiers only: the party by tier; party_size is their sum.",
    )
    promo_code = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="A promo code of the theme's merchant (any case): 409 promo_invalid when it cannot be used.",
    )


class RescheduleSerializer(serializers.Serializer):
    slot = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="Another open slot of the same theme.")


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    email = serializers.EmailField()


class ParticipantSerializer(serializers.ModelSerializer):
    booking = serializers.IntegerField(source="id")
    customer = CustomerSerializer()

    class Meta:
        model = Booking
        fields = ["booking", "customer", "party_size", "status", "created_at"]
        read_only_fields = fields


class AttendanceSerializer(serializers.Serializer):
    booking = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    status = serializers.ChoiceField(choices=[BookingStatus.ATTENDED, BookingStatus.NO_SHOW])


_SERVABLE_SLOT_FIELDS = (
    "theme__merchant__owner_id",
    "theme__merchant__status",
    "theme__merchant__suspension_keeps_bookings",
)


def _servable_slot(user, pk: int) -> Slot:
    """Slot `pk` if `user` may see it, or it is of a merchant suspended with its bookings kept and `user` owns it.

    The visibility subquery is narrowed to `pk` too: `pk = X AND (pk IN (visible) OR kept)`
    with the whole visible set as a subquery made PostgreSQL scan every slot (an OR
    defeats the primary key), seconds per request at full size (docs/perf/).
    """
    return get_object_or_404(
        Slot.objects.select_related("theme", "theme__merchant")
        # Only what the participants view reads: the merchant's ownership rule (user_serves_kept_bookings)
        # and the slot's pk. About 90 columns fewer to compile and send (docs/perf/SQL_COMPILE.md).
        .only(*_SERVABLE_SLOT_FIELDS)
        .filter(pk=pk)
        .filter(
            Q(pk__in=catalog_selectors.slot_visible_to(user=user).filter(pk=pk).values("pk"))
            | serving_kept_bookings_q(user, merchant_path="theme__merchant")
        )
    )


def _servable_booking(user, pk: int) -> Booking:
    """Booking `pk` if `user` may see it, or its merchant was suspended with its bookings kept and `user` owns it."""
    return get_object_or_404(
        Booking.objects.select_related("slot", "slot__theme", "slot__theme__merchant", "customer")
        .filter(pk=pk)
        .filter(
            Q(pk__in=selectors.booking_visible_to(user=user).filter(pk=pk).values("pk"))
            | serving_kept_bookings_q(user, merchant_path="slot__theme__merchant")
        )
    )


class SlotJoinView(GenericAPIView):
    """POST /slots/{id}/join/: hold seats for the caller's party."""

    permission_classes = [IsAuthenticated]
    serializer_class = JoinSerializer
    # No default throttle classes are configured: the join bucket is set here (shared with the portal).
    throttle_classes = [JoinThrottle]

    @extend_schema(
        request=JoinSerializer,
        responses={
            201: BookingOutSerializer,
            400: None,
            404: None,
            409: ErrorSerializer,
            429: OpenApiResponse(description="Too many joins; see `Retry-After`."),
        },
    )
    def post(self, request: Request, slot_id: int) -> Response:
        # Visible to the caller? One EXISTS: the join reads the slot itself, locked, in its transaction.
        if not catalog_selectors.slot_visible_to(user=request.user).filter(pk=slot_id).exists():
            raise Http404("No Slot matches the given query.")
        data = JoinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = services.booking_join(
            slot_id=slot_id,
            customer=request.user,
            party_size=data.validated_data.get("party_size"),
            tickets=data.validated_data.get("tickets"),
            promo_code=(data.validated_data.get("promo_code") or "").strip() or None,
        )
        return Response(BookingOutSerializer(booking).data, status=status.HTTP_201_CREATED)


class SlotParticipantsView(GenericAPIView):
    """GET /slots/{id}/participants/: the slot's active bookings, for its merchant and admins."""

    permission_classes = [IsAuthenticated]
    serializer_class = ParticipantSerializer
    # Page numbers and `count` as DefaultPagination; a slot's participants fit on one page, so no COUNT(*).
    pagination_class = SmallListPagination

    @extend_schema(responses={200: ParticipantSerializer(many=True), 403: None, 404: None})
    def get(self, request: Request, slot_id: int) -> Response:
        slot = _servable_slot(request.user, slot_id)
        if not user_serves_kept_bookings(request.user, slot.theme.merchant):
            raise PermissionDenied("Only the slot's merchant may see its participants.")
        # ParticipantSerializer's JSON built from plain rows (bookings/api_rows.py); the serializer stays the schema.
        page = self.paginate_queryset(api_rows.participant_values(selectors.slot_participants(slot_id=slot.pk)))
        return self.get_paginated_response(api_rows.participant_rows(page))


@extend_schema_view(
    list=extend_schema(
        responses={
            200: BookingOutSerializer(many=True),
            404: OpenApiResponse(description="Invalid cursor."),
        }
    ),
    retrieve=extend_schema(
        responses={200: BookingOutSerializer, 404: OpenApiResponse(description="No such booking, or not yours.")}
    ),
)
class BookingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated]
    serializer_class = BookingOutSerializer
    pagination_class = NewestFirstCursorPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if self.action == "list":
            return selectors.booking_list_for(user=self.request.user)
        return selectors.booking_visible_to(user=self.request.user)

    def list(self, request: Request, *args, **kwargs) -> Response:
        # BookingOutSerializer's JSON built from plain rows (bookings/api_rows.py); the serializer stays the schema.
        page = self.paginate_queryset(api_rows.booking_values(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(api_rows.booking_rows(page))

    @extend_schema(request=None, responses={200: BookingOutSerializer, 404: None, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        booking = self.get_object()
        booking = booking_cancel_and_refund(booking_id=booking.pk, by=request.user).booking
        booking = selectors.booking_visible_to(user=request.user).get(pk=booking.pk)
        return Response(BookingOutSerializer(booking).data)

    @extend_schema(
        request=RescheduleSerializer,
        responses={200: BookingOutSerializer, 400: None, 403: None, 404: None, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk=None) -> Response:
        """Move the booking to another open time of its theme (API.md "Reschedule"); its customer only."""
        booking = self.get_object()
        if booking.customer_id != request.user.pk:
            raise PermissionDenied("Only the customer who booked may change its time.")
        data = RescheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = get_object_or_404(catalog_selectors.slot_visible_to(user=request.user), pk=data.validated_data["slot"])
        booking_reschedule(booking_id=booking.pk, slot_id=slot.pk, by=request.user)
        booking = selectors.booking_visible_to(user=request.user).get(pk=booking.pk)
        return Response(BookingOutSerializer(booking).data)


class AttendanceView(GenericAPIView):
    """POST /attendance/: the slot's merchant marks a booking attended or no-show."""

    permission_classes = [IsAuthenticated]
    serializer_class = AttendanceSerializer

    @extend_schema(
        request=AttendanceSerializer,
        responses={200: BookingOutSerializer, 400: None, 403: None, 404: None, 409: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        data = AttendanceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Scope first (a booking the caller cannot see is a 404), then the role: the
        # booking's own customer sees it but may not mark it (403, like participants).
        booking = _servable_booking(request.user, data.validated_data["booking"])
        if not user_serves_kept_bookings(request.user, booking.slot.theme.merchant):
            raise PermissionDenied("Only the slot's merchant may mark attendance.")
        booking = services.booking_mark_attendance(
            booking_id=booking.pk, status=data.validated_data["status"], by=request.user
        )
        booking = _servable_booking(request.user, booking.pk)
        return Response(BookingOutSerializer(booking).data)
