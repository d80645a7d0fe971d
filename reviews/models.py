from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from bookwise.models import TimeStampedModel
from catalog.models import Theme


class Review(TimeStampedModel):
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(blank=True, max_length=5000)
    is_hidden = models.BooleanField(default=False, help_text="Hidden by a moderator: not shown, not counted.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"),
            models.UniqueConstraint(
                fields=["author", "theme"], name="review_one_per_author_theme", violation_error_code="already_reviewed"
            ),
        ]
        indexes = [models.Index(fields=["theme", "-created_at", "-id"], name="review_theme_recent_idx")]

    def __str__(self) -> str:
        return f"{self.rating}/5 on {self.theme_id} by {self.author_id}"
