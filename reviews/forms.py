"""The portal's review form. The rules (attended, one per theme, 1..5) are reviews.services'."""

from __future__ import annotations

from django import forms

from reviews.services import COMMENT_MAX_LENGTH, RATING_MAX, RATING_MIN

RATING_CHOICES = [
    ("", "Choose a rating"),
    *[(str(n), f"{n} star{'s' if n > 1 else ''}") for n in range(RATING_MAX, RATING_MIN - 1, -1)],
]


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="Rating",
        choices=RATING_CHOICES,
        coerce=int,
        error_messages={
            "required": "Choose a rating from 1 to 5.",
            "invalid_choice": "Choose a rating from 1 to 5.",
        },
    )
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What did you like? What could be better? (optional)",
    )
