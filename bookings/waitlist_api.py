"""Waitlist API (API.md "Waitlist"): join a full slot's queue, my entries, leave. Thin: bookings.waitlist decides."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from bookings import catalog_selectors, waitlist, waitlist_selectors
from bookings.models import WaitlistEntry
from bookings.throttles import JoinThrottle
from bookwise.openapi import ErrorSerializer
from bookwise.pagination import NewestFirstCursorPagination
from catalog.limits import MAX_PARTY


class WaitlistEntrySerializer(serializers.ModelSerializer):
    position = serializers.SerializerMethodField(help_text="1 = offered next; null unless waiting.")
    theme = serializers.IntegerField(source="slot.theme_id", read_only=True)
    theme_title = serializers.CharField(source="slot.theme.title", read_only=True)
    starts_at = serializers.DateTimeField(source="slot.starts_at", read_only=True)

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "slot",
            "theme",
            "theme_title",
            "starts_at",
            "party_size",
            "status",
            "position",
            "booking",
            "offered_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_position(self, entry: WaitlistEntry) -> int | None:
        if hasattr(entry, "position"):
            return entry.position
        return waitlist_selectors.waitlist_position(entry)


class WaitlistJoinSerializer(serializers.Serializer):
    party_size = serializers.IntegerField(min_value=1, max_value=MAX_PARTY)


class SlotWaitlistView(GenericAPIView):
    """POST /slots/{id}/waitlist/: queue the caller's party for a full slot."""

    permission_classes = [IsAuthenticated]
    serializer_class = WaitlistJoinSerializer
    throttle_classes = [JoinThrottle]

    @extend_schema(
        request=WaitlistJoinSerializer,
        responses={201: WaitlistEntrySerializer, 400: None, 404: None, 409: ErrorSerializer},
    )
    def post(self, request: Request, slot_id: int) -> Response:
        slot = get_object_or_404(catalog_selectors.slot_visible_to(user=request.user), pk=slot_id)
        data = WaitlistJoinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = waitlist.waitlist_join(
            slot_id=slot.pk, customer=request.user, party_size=data.validated_data["party_size"]
        )
        entry = waitlist_selectors.waitlist_entries_for(customer=request.user).get(pk=entry.pk)
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        responses={200: WaitlistEntrySerializer(many=True), 404: OpenApiResponse(description="Bad cursor.")}
    ),
    destroy=extend_schema(responses={204: None, 404: OpenApiResponse(description="No such entry, or not yours.")}),
)
class WaitlistViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """GET /waitlist/: the caller's entries, newest first; DELETE /waitlist/{id}/: leave the queue."""

    permission_classes = [IsAuthenticated]
    serializer_class = WaitlistEntrySerializer
    pagination_class = NewestFirstCursorPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return waitlist_selectors.waitlist_entries_for(customer=self.request.user)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        entry = self.get_object()
        waitlist.waitlist_leave(entry_id=entry.pk, customer=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
