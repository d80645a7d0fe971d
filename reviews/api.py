"""Reviews API: thin adapters over `reviews.services` and `reviews.selectors`."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.response import Response

from bookwise.openapi import error_response
from bookwise.pagination import NewestFirstCursorPagination
from catalog.models import Theme
from reviews.models import Review
from reviews.selectors import (
    review_editable_by,
    review_list_for_theme,
    review_visible_to,
    theme_reviewable_choices,
    theme_visible_to,
)
from reviews.services import COMMENT_MAX_LENGTH, RATING_MAX, RATING_MIN, review_create, review_delete, review_update

PG_BIGINT_MAX = 2**63 - 1


class ReviewAuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    full_name = serializers.CharField(read_only=True)


class ReviewSerializer(serializers.ModelSerializer):
    author = ReviewAuthorSerializer(read_only=True)

    class Meta:
        model = Review
        fields = ["id", "theme", "author", "rating", "comment", "created_at", "updated_at"]
        read_only_fields = fields


class ThemeIdField(serializers.PrimaryKeyRelatedField):
    """A theme id: a whole number naming a theme the caller may see, else 400 (never a 1.5 or `true` coerced)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, str):
            if not data.isascii() or not data.isdigit():
                self.fail("incorrect_type", data_type="str")
            data = int(data)
        if not 0 < data <= PG_BIGINT_MAX:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class ReviewCreateSerializer(serializers.Serializer):
    theme = ThemeIdField(queryset=Theme.objects.none())
    rating = serializers.IntegerField(min_value=RATING_MIN, max_value=RATING_MAX)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX_LENGTH, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["theme"].queryset = theme_reviewable_choices(user=request.user)


class ReviewUpdateSerializer(serializers.Serializer):
    rating = serializers.IntegerField(required=False, min_value=RATING_MIN, max_value=RATING_MAX)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX_LENGTH)


_BAD_REQUEST = OpenApiResponse(description="Invalid input: `{field: [message]}`.")
_NOT_AUTHENTICATED = error_response("Missing or invalid token.")
_NOT_FOUND = error_response("No such review, or not yours to change.")


@extend_schema_view(
    create=extend_schema(
        summary="Review a theme you attended",
        request=ReviewCreateSerializer,
        responses={
            201: ReviewSerializer,
            400: _BAD_REQUEST,
            401: _NOT_AUTHENTICATED,
            403: error_response("`not_attended`: no attended booking of the theme; `own_theme`."),
            409: error_response("`already_reviewed`: one review per theme."),
        },
    ),
    retrieve=extend_schema(
        summary="One review",
        responses={200: ReviewSerializer, 404: error_response("Not found.")},
    ),
    partial_update=extend_schema(
        summary="Edit your review (author or admin)",
        request=ReviewUpdateSerializer,
        responses={
            200: ReviewSerializer,
            400: _BAD_REQUEST,
            401: _NOT_AUTHENTICATED,
            403: error_response("Not allowed."),
            404: _NOT_FOUND,
        },
    ),
    destroy=extend_schema(
        summary="Delete a review (author or admin)",
        responses={
            204: None,
            401: _NOT_AUTHENTICATED,
            403: error_response("Not allowed."),
            404: _NOT_FOUND,
        },
    ),
)
class ReviewViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ReviewSerializer
    permission_classes = [IsAuthenticatedOrReadOnly]

    def get_queryset(self):
        # Scope first: a review the caller may not change is a 404, not a 403.
        if self.action in ("partial_update", "destroy"):
            return review_editable_by(user=self.request.user)
        return review_visible_to(user=self.request.user)

    def create(self, request, *args, **kwargs):
        data = ReviewCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        review = review_create(author=request.user, **data.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        review = self.get_object()
        data = ReviewUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = review_update(review=review, **data.validated_data)
        return Response(ReviewSerializer(review).data)

    def destroy(self, request, *args, **kwargs):
        review_delete(review=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    summary="A theme's reviews, newest first",
    responses={
        200: ReviewSerializer(many=True),
        404: error_response("No such theme."),
    },
)
class ThemeReviewListView(generics.ListAPIView):
    serializer_class = ReviewSerializer
    pagination_class = NewestFirstCursorPagination
    permission_classes = [IsAuthenticatedOrReadOnly]

    def get_queryset(self):
        theme_id = self.kwargs["theme_id"]
        if theme_id > PG_BIGINT_MAX or not theme_visible_to(user=self.request.user).filter(pk=theme_id).exists():
            raise Http404
        return review_list_for_theme(theme_id=theme_id)
