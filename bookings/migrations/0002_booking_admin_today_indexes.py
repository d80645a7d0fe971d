# The admin index's "bookings created / confirmed today" counts (bookwise.admin_dashboard).
# Built CONCURRENTLY: the bookings table is large and takes writes all day; a
# plain CREATE INDEX would block every booking while it builds.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bookings", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="booking",
            index=models.Index(fields=["created_at"], name="booking_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="booking",
            index=models.Index(
                condition=models.Q(("confirmed_at__isnull", False)),
                fields=["confirmed_at"],
                name="booking_confirmed_at_idx",
            ),
        ),
    ]
