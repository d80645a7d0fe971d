# The sent-email log that makes email tasks idempotent (bookwise.emails.send_email_once).

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="EmailLog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("booking_confirmed", "Booking confirmed"),
                            ("booking_cancelled", "Booking cancelled"),
                            ("merchant_approved", "Merchant approved"),
                            ("password_reset", "Password reset"),
                        ],
                        max_length=32,
                    ),
                ),
                ("key", models.CharField(max_length=100)),
                ("recipient", models.EmailField(max_length=254)),
                ("sent_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("kind", "key"), name="emaillog_kind_key_unique")],
            },
        ),
    ]
