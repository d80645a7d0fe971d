"""A Stripe stand-in for development and tests: localstripe plus the Stripe Connect parts it lacks.

localstripe (a pip package) fakes payments; the platform also pays merchants
through Connect, which localstripe does not know. This package extends
localstripe's server in place (`server.py`) with Express accounts, account
links whose URL completes onboarding when opened, transfers and their
reversals, disputes, the `account.updated`, `transfer.*` and
`charge.dispute.*` events, and test controls under `/_standin/`. Requests to
the new endpoints are checked against Stripe's parameter names (`params.py`).

Start it with `python scripts/stripe_standin.py --port N [--from-scratch]`
(`devtools.embedded.start_localstripe` does). A test double of Stripe's
documented API, kept small; production code only talks to Stripe through the
`stripe` SDK and never imports this.

Test controls (no API key, form or JSON bodies):

- `GET  /_standin/onboarding/{link}`: what the account link's `url` points at.
- `POST /_standin/onboarding/{link}/expire`: the link expires (opening it goes to refresh_url).
- `POST /_standin/accounts` (`id`, `email`, `country`): an onboarded account under a chosen id (demo data).
- `POST /_standin/accounts/{id}/enable`: onboarding completed without a browser.
- `POST /_standin/accounts/{id}/restrict` (`currently_due`, `disabled_reason`): payouts stop.
- `POST /_standin/disputes` (`charge`, `amount`, `reason`): charge.dispute.created.
- `POST /_standin/disputes/{id}/close` (`status` won|lost): charge.dispute.closed.
"""
