"""The merchant portal's "Photos" page of a theme: upload, alt text, order and delete (catalog.photos).

Works without JavaScript: every action is a small form that posts and comes back
to the page. Thin: parse the form, call one service, show its refusal in words.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods, require_POST

from bookwise.errors import DomainError
from bookwise.web import form_add_domain_error
from catalog import photos
from catalog.limits import MAX_PHOTO_BYTES, MAX_PHOTOS_PER_THEME, PHOTO_ALT_TEXT_MAX_LENGTH
from catalog.selectors import merchant_themes
from merchants.views import _render, approved_merchant_required

ALT_HELP = (
    "Say what the photo shows, for people who use a screen reader, e.g. “Four friends searching the candle-lit "
    "cellar for the key”."
)


class PhotoUploadForm(forms.Form):
    image = forms.FileField(
        label="Photo",
        help_text=f"A JPEG, PNG or WebP image, at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB. "
        "Location and camera details are removed before it is published.",
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        error_messages={"required": "Choose a photo to upload.", "empty": "The chosen file is empty."},
    )
    alt_text = forms.CharField(
        label="Description (alt text)",
        max_length=PHOTO_ALT_TEXT_MAX_LENGTH,
        help_text=ALT_HELP,
        error_messages={"required": "Describe what the photo shows."},
    )


class PhotoAltForm(forms.Form):
    alt_text = forms.CharField(
        label="Description (alt text)",
        max_length=PHOTO_ALT_TEXT_MAX_LENGTH,
        error_messages={"required": "Describe what the photo shows."},
    )


def _theme(request: HttpRequest, pk: int):
    return get_object_or_404(merchant_themes(merchant=request.merchant), pk=pk)


def _photo(theme, photo_id: int):
    return get_object_or_404(photos.theme_photos(theme_id=theme.pk), pk=photo_id)


def _page(request: HttpRequest, theme, form: PhotoUploadForm, *, status: int = 200) -> HttpResponse:
    listed = list(photos.theme_photos(theme_id=theme.pk))
    for photo in listed:
        photo.alt_form = PhotoAltForm(initial={"alt_text": photo.alt_text}, prefix=f"photo-{photo.pk}")
    return _render(
        request,
        "theme_photos.html",
        {
            "theme": theme,
            "photos": listed,
            "form": form,
            "max_photos": MAX_PHOTOS_PER_THEME,
            "room_left": len(listed) < MAX_PHOTOS_PER_THEME,
        },
        status=status,
    )


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def theme_photos(request: HttpRequest, pk: int) -> HttpResponse:
    theme = _theme(request, pk)
    if request.method == "POST":
        form = PhotoUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                photos.theme_photo_add(
                    theme=theme, file=form.cleaned_data["image"], alt_text=form.cleaned_data["alt_text"]
                )
            except DomainError as exc:
                if exc.code == "invalid_image":
                    form.add_error("image", exc.message)  # next to the file field
                else:
                    form_add_domain_error(form, exc)
            else:
                messages.success(request, "Photo added.")
                return redirect("merchant:theme-photos", pk=theme.pk)
        return _page(request, theme, form, status=400 if form.errors else 200)
    return _page(request, theme, PhotoUploadForm())


@approved_merchant_required
@require_POST
def photo_alt(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    theme = _theme(request, pk)
    photo = _photo(theme, photo_id)
    form = PhotoAltForm(request.POST, prefix=f"photo-{photo.pk}")
    if form.is_valid():
        try:
            photos.theme_photo_update_alt(photo=photo, alt_text=form.cleaned_data["alt_text"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Description saved.")
    else:
        messages.error(request, " ".join(form.errors.get("alt_text", ["Describe what the photo shows."])))
    return redirect("merchant:theme-photos", pk=theme.pk)


@approved_merchant_required
@require_POST
def photo_move(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    theme = _theme(request, pk)
    photo = _photo(theme, photo_id)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        messages.error(request, "Choose to move the photo up or down.")
    else:
        photos.theme_photo_move(photo=photo, offset=offset)
        messages.success(request, "Photo moved " + ("earlier." if offset < 0 else "later."))
    return redirect("merchant:theme-photos", pk=theme.pk)


@approved_merchant_required
@require_POST
def photo_delete(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    theme = _theme(request, pk)
    photos.theme_photo_delete(photo=_photo(theme, photo_id))
    messages.success(request, "Photo deleted.")
    return redirect("merchant:theme-photos", pk=theme.pk)
