"""Create or reuse the dj-stripe webhook endpoint for STRIPE_WEBHOOK_SECRET and print its path.

The last line of output is the endpoint's path, `/stripe/webhook/<uuid>/`, or
with `--base-url` its absolute URL: register that URL with Stripe (dashboard,
or localstripe in development) with the same signing secret. `--connect`: the
endpoint for events on connected accounts, STRIPE_CONNECT_WEBHOOK_SECRET.
"""

from django.core.management.base import BaseCommand, CommandError

from payments.stripe_setup import ensure_webhook_endpoint, webhook_path


class Command(BaseCommand):
    help = "Create or reuse the Stripe webhook endpoint for STRIPE_WEBHOOK_SECRET; print its path last."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            help="Public base URL of the site, e.g. https://bookwise.fly.dev: print the absolute webhook URL.",
        )
        parser.add_argument(
            "--connect",
            action="store_true",
            help="The endpoint for events on connected accounts (STRIPE_CONNECT_WEBHOOK_SECRET).",
        )

    def handle(self, *args, **options):
        base_url = (options["base_url"] or "").rstrip("/")
        try:
            endpoint = ensure_webhook_endpoint(base_url or None, connect=options["connect"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        path = webhook_path(endpoint)
        secret = "STRIPE_CONNECT_WEBHOOK_SECRET" if options["connect"] else "STRIPE_WEBHOOK_SECRET"
        self.stderr.write(f"Webhook endpoint {endpoint.id} (signing secret: {secret})")
        self.stdout.write(f"{base_url}{path}" if base_url else path)
