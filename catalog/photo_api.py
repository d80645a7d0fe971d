"""Theme photos in the API (API.md "Photos and feeds"). Thin: scope the theme, check the owner, call catalog.photos.

Uploads are multipart (`image`, `alt_text`): DRF's default parsers (JSON, form,
multipart) are in effect, the project sets none. Whether the file is an image is
decided by catalog.photos from its bytes, never from the file name or the
Content-Type the client sent.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import catalog_selectors
from bookwise.openapi import VALIDATION_ERROR, ErrorSerializer
from catalog import photos
from catalog.limits import PHOTO_ALT_TEXT_MAX_LENGTH
from catalog.models import Theme, ThemePhoto
from merchants.permissions import user_manages


class ThemePhotoOutSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The cleaned original (at most 2400 px on its longer side).")
    renditions = serializers.SerializerMethodField(
        help_text='Resized copies by name: {"small": url (480 px wide), "medium": (960), "large": (1600)}; '
        "sizes wider than the photo are left out."
    )

    class Meta:
        model = ThemePhoto
        fields = ["id", "url", "alt_text", "position", "width", "height", "renditions"]
        read_only_fields = fields

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        # Filesystem storage gives a path (/media/...); S3 a full URL already.
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url

    def get_url(self, photo: ThemePhoto) -> str:
        return self._absolute(photos.photo_url(photo))

    def get_renditions(self, photo: ThemePhoto) -> dict[str, str]:
        return {name: self._absolute(url) for name, url in photos.photo_rendition_urls(photo).items()}


class ThemePhotoInSerializer(serializers.Serializer):
    image = serializers.FileField(
        allow_empty_file=False, help_text="A JPEG, PNG or WebP image (checked by its content), at most 10 MB."
    )
    alt_text = serializers.CharField(
        max_length=PHOTO_ALT_TEXT_MAX_LENGTH, help_text="What the photo shows, for people using a screen reader."
    )


class ThemePhotoPatchSerializer(serializers.Serializer):
    alt_text = serializers.CharField(max_length=PHOTO_ALT_TEXT_MAX_LENGTH)


class ThemePhotoOrderSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=50,
        help_text="Every photo id of the theme, in the new order.",
    )


def _owned_theme(request: Request, theme_id: int) -> Theme:
    """The theme if the caller may see it (404 otherwise) and manages its merchant (403 otherwise)."""
    theme = get_object_or_404(
        catalog_selectors.theme_visible_to(user=request.user).select_related("merchant"), pk=theme_id
    )
    if not user_manages(request.user, theme.merchant):
        raise PermissionDenied("Only the theme's merchant may change its photos.")
    return theme


class ThemePhotoListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ThemePhotoInSerializer},
        responses={
            201: ThemePhotoOutSerializer,
            # A missing field is a field error; a refused file is {"code": "invalid_image", "detail": ...}.
            400: VALIDATION_ERROR,
            403: None,
            404: None,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, theme_id: int) -> Response:
        theme = _owned_theme(request, theme_id)
        data = ThemePhotoInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        photo = photos.theme_photo_add(
            theme=theme, file=data.validated_data["image"], alt_text=data.validated_data["alt_text"]
        )
        return Response(ThemePhotoOutSerializer(photo, context={"request": request}).data, status=201)


class ThemePhotoDetailView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    http_method_names = ["patch", "delete", "options"]

    def _photo(self, request: Request, theme_id: int, photo_id: int) -> ThemePhoto:
        theme = _owned_theme(request, theme_id)
        return get_object_or_404(photos.theme_photos(theme_id=theme.pk), pk=photo_id)

    @extend_schema(
        request=ThemePhotoPatchSerializer, responses={200: ThemePhotoOutSerializer, 400: None, 403: None, 404: None}
    )
    def patch(self, request: Request, theme_id: int, photo_id: int) -> Response:
        photo = self._photo(request, theme_id, photo_id)
        data = ThemePhotoPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        photo = photos.theme_photo_update_alt(photo=photo, alt_text=data.validated_data["alt_text"])
        return Response(ThemePhotoOutSerializer(photo, context={"request": request}).data)

    @extend_schema(request=None, responses={204: None, 403: None, 404: None})
    def delete(self, request: Request, theme_id: int, photo_id: int) -> Response:
        photos.theme_photo_delete(photo=self._photo(request, theme_id, photo_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ThemePhotoOrderView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=ThemePhotoOrderSerializer,
        responses={200: ThemePhotoOutSerializer(many=True), 400: None, 403: None, 404: None},
    )
    def post(self, request: Request, theme_id: int) -> Response:
        theme = _owned_theme(request, theme_id)
        data = ThemePhotoOrderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ordered = photos.theme_photos_reorder(theme=theme, ids=data.validated_data["ids"])
        return Response(ThemePhotoOutSerializer(ordered, many=True, context={"request": request}).data)
