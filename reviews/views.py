"""The customer's review page: write, or edit, my one review of a theme I attended."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from bookwise.errors import DomainError
from bookwise.web import form_add_domain_error
from reviews.forms import ReviewForm
from reviews.selectors import review_editable_by, theme_reviewable_choices
from reviews.services import has_attended, review_create, review_update


@login_required
@require_http_methods(["GET", "POST"])
def review_edit(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_object_or_404(theme_reviewable_choices(user=request.user), pk=pk)
    review = review_editable_by(user=request.user).filter(author=request.user, theme=theme).first()
    initial = {"rating": review.rating, "comment": review.comment} if review else None
    form = ReviewForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if review is None:
                review_create(author=request.user, theme=theme, **form.cleaned_data)
            else:
                review_update(review=review, **form.cleaned_data)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            messages.success(
                request, "Thank you: your review is saved." if review is None else "Your review is updated."
            )
            return redirect("portal:theme-detail", pk=theme.pk)
    return render(
        request,
        "portal/review_form.html",
        {
            "theme": theme,
            "review": review,
            "form": form,
            # Shown before the form is filled in; review_create enforces it either way.
            "may_review": review is not None or has_attended(user=request.user, theme_id=theme.pk),
        },
    )
