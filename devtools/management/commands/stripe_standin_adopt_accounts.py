"""Create at the Stripe stand-in every connected account the database names (development only).

`seed_demo` makes its demo data without Stripe, so the onboarded demo
merchant's account id (`acct_demo_...`) exists at no Stripe. In development
the stand-in plays Stripe: `scripts/dev.py run` calls this after `seed_demo`,
and the stand-in creates those accounts, onboarded, under the same ids
(`POST /_standin/accounts`), so the demo merchant's next transfers go through.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from payments.models import ConnectedAccount, ConnectedAccountStatus


class Command(BaseCommand):
    help = "Create at the Stripe stand-in (STRIPE_API_HOST) the enabled connected accounts the database names."

    def handle(self, *args, **options):
        host = getattr(settings, "STRIPE_API_HOST", "")
        if not host.startswith(("http://127.0.0.1", "http://localhost")):
            raise CommandError("STRIPE_API_HOST must be the local Stripe stand-in (http://127.0.0.1:...).")
        accounts = ConnectedAccount.objects.filter(status=ConnectedAccountStatus.ENABLED).select_related(
            "merchant__owner"
        )
        for account in accounts:
            body = urllib.parse.urlencode(
                {
                    "id": account.stripe_account_id,
                    "email": account.merchant.owner.email,
                    "country": account.merchant.country or "US",
                }
            ).encode()
            request = urllib.request.Request(f"{host.rstrip('/')}/_standin/accounts", data=body)  # noqa: S310
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a local address, checked above
                adopted = json.load(response)
            self.stdout.write(f"{adopted['id']}: payouts_enabled={adopted['payouts_enabled']}")
