#!/usr/bin/env python3
"""Screenshots of the portal's key pages at desktop (1280x800) and phone (375x812) width, into docs/screens/.

    .venv/bin/python scripts/screenshots.py [--only NAME ...] [--keep-db] [--template MIGRATED_EMPTY_DB]

It starts what it needs and stops it afterwards, every step with a time limit:
- a throwaway database `bookwise_screens` on the PostgreSQL server of DATABASE_URL
  (default postgres://postgres@127.0.0.1:5432/), migrated and filled by `seed_demo`,
  plus one unpaid hold of the demo customer (for the checkout page);
- localstripe, for the checkout's payment intent and Stripe.js stand-in;
- `manage.py runserver --noreload` on a free port, with DEBUG=True and Celery tasks run eagerly.
Then Debian's Chromium (/usr/bin/chromium, driven by Playwright; never a downloaded browser)
logs in as the demo customer, merchant and admin and saves `<page>-desktop.png` and
`<page>-phone.png` for each page. A page that answers 404 (not built yet) is skipped.
Each image is cut at MAX_HEIGHT pixels so the folder stays a few MB.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools import embedded  # noqa: E402 - after the path is set; imports only the standard library
from portal.demo import ADMIN_EMAIL, CUSTOMER_EMAIL, DEMO_PASSWORD, MERCHANT_EMAIL  # noqa: E402

OUT = ROOT / "docs" / "screens"
CHROMIUM = "/usr/bin/chromium"
DATABASE = "bookwise_screens"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}
MAX_HEIGHT = 2000
STEP_TIMEOUT = 900  # seconds, for migrate / seed / setup (a fresh migrate takes minutes on a busy machine)
PAGE_TIMEOUT_MS = 15_000
LOCAL_KEYS = {
    "STRIPE_SECRET_KEY": "sk_test_BookWiseScreenshotsKey000000000",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_BookWiseScreenshotsKey000000000",
    "STRIPE_WEBHOOK_SECRET": "whsec_bookwise_screenshots",
}

# Runs in `manage.py shell` once the demo data exists: makes the checkout's hold and prints
# every page's path as JSON (reverse() raises for a page that does not exist: it is left out).
SETUP = r"""
import json
from datetime import timedelta
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from accounts.models import User
from bookings.models import Booking
from bookings.services import booking_join
from catalog.models import Slot, Theme
from merchants.models import Merchant

now = timezone.now()
merchant = Merchant.objects.get(owner__email=MERCHANT_EMAIL)
customer = User.objects.get(email=CUSTOMER_EMAIL)
theme = Theme.objects.get(merchant=merchant, title="The Alchemist's Cellar")
from bookings.models import WaitlistEntry
from bookwise.errors import DomainError
for slot in Slot.objects.filter(theme=theme, starts_at__gt=now + timedelta(days=1)).order_by("starts_at")[:50]:
    try:  # the first time with room (the demo sells one out for its waitlist)
        hold = booking_join(slot_id=slot.pk, customer=customer, party_size=2)
        break
    except DomainError:
        continue
waiting = WaitlistEntry.objects.filter(slot__theme__merchant=merchant).order_by("id").first()
past = Slot.objects.filter(theme__merchant=merchant, starts_at__lt=now).order_by("-starts_at").first()
yesterday = timezone.localtime(past.starts_at, merchant.tzinfo).date()

def url(name, *args, query=""):
    try:
        return reverse(name, args=args) + query
    except NoReverseMatch:
        return None

pages = {
    "customer": {
        "catalog": url("portal:catalog"),
        "theme": url("portal:theme-detail", theme.pk),
        "checkout": url("portal:checkout", hold.pk),
        "my-bookings": url("portal:my-bookings"),
        "account": url("portal:account"),
        "merchant-apply": url("merchant:home"),  # the demo customer has no merchant: the application form
    },
    "merchant": {
        "merchant-dashboard": url("merchant:home"),
        "merchant-week": url("merchant:week", query=f"?start={yesterday.isoformat()}"),
        "merchant-slots": url("merchant:slot-list", theme.pk),
        "merchant-participants": url("merchant:slot-participants", past.pk),
        "merchant-waitlist": url("merchant:slot-participants", waiting.slot_id) if waiting else None,
        "merchant-promo-codes": url("merchant:promo-codes"),
        "merchant-settings": url("merchant:settings"),
        "merchant-theme-new": url("merchant:theme-create"),
        "merchant-theme-edit": url("merchant:theme-edit", theme.pk),
        "merchant-theme-photos": url("merchant:theme-photos", theme.pk),
        "merchant-schedule": url("merchant:slot-schedule", theme.pk),
        "merchant-slot-capacity": url("merchant:slot-capacity", slot.pk),
    },
    "admin": {
        "admin-merchant": f"/admin/merchants/merchant/{merchant.pk}/change/",
        "admin-merchant-suspend": f"/admin/merchants/merchant/{merchant.pk}/suspend/",
        "admin-booking": f"/admin/bookings/booking/{hold.pk}/change/",
    },
}
print("PAGES=" + json.dumps({role: {k: v for k, v in p.items() if v} for role, p in pages.items()}))
"""


def say(message: str) -> None:
    print(f"[screenshots] {message}", flush=True)


def database_urls() -> tuple[str, str]:
    """(the server's maintenance database URL, the throwaway database's URL), from DATABASE_URL."""
    base = urllib.parse.urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/bookwise")
    return base._replace(path="/postgres").geturl(), base._replace(path=f"/{DATABASE}").geturl()


def recreate_database(admin_url: str, *, template: str = "", drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        if drop_only:
            return
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(create)


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def log_in(page, site: str, role: str) -> None:
    email = {"customer": CUSTOMER_EMAIL, "merchant": MERCHANT_EMAIL, "admin": ADMIN_EMAIL}[role]
    page.goto(f"{site}/admin/login/?next=/admin/" if role == "admin" else f"{site}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_load_state()


def shoot(page, name: str, size: str, *, from_selector: str = "") -> Path:
    path = OUT / f"{name}-{size}.png"
    top = 0
    if from_selector:
        top = max(int(page.eval_on_selector(from_selector, "e => e.getBoundingClientRect().top + scrollY")) - 16, 0)
    height = min(page.evaluate("document.documentElement.scrollHeight") - top, MAX_HEIGHT)
    page.screenshot(
        path=str(path), full_page=True, clip={"x": 0, "y": top, "width": SIZES[size]["width"], "height": height}
    )
    return path


def preview_schedule(page) -> None:
    """The weekly schedule form filled in and previewed: the page with its preview tables."""
    from datetime import date, timedelta

    first = date.today() + timedelta(days=1)
    page.get_by_label("First day").fill(first.isoformat())
    page.get_by_label("Last day").fill((first + timedelta(days=13)).isoformat())
    for weekday in ("Friday", "Saturday"):
        page.get_by_label(weekday).check()
    page.get_by_label("Start times").fill("17:00, 19:30")
    page.get_by_label("Capacity (people per slot)").fill("12")
    page.get_by_role("button", name="Preview schedule").click()
    page.wait_for_selector("#preview-heading")


# Pages shown after an interaction (a form filled in), not as they load.
PREPARE = {"merchant-schedule": preview_schedule}
# A second image of a long page, from an element down: (image name, CSS selector).
PARTS = {"merchant-theme-edit": ("merchant-theme-tiers", "#ticket-tiers")}


def take_screenshots(site: str, pages: dict[str, dict[str, str]], only: set[str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        for size, viewport in SIZES.items():
            context = browser.new_context(viewport=viewport, is_mobile=size == "phone", locale="en-GB")
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            page = context.new_page()
            if not only or "login-error" in only:
                # A login with a wrong password: the error summary, focused.
                page.goto(f"{site}/accounts/login/")
                page.fill("input[name=username]", CUSTOMER_EMAIL)
                page.fill("input[name=password]", "not-the-password")
                page.click("form [type=submit]")
                page.wait_for_load_state()
                saved.append(shoot(page, "login-error", size))
            for role, role_pages in pages.items():
                wanted = {name: path for name, path in role_pages.items() if not only or name in only}
                if not wanted:
                    continue
                context.clear_cookies()
                log_in(page, site, role)
                for name, path in wanted.items():
                    response = page.goto(site + path, wait_until="load")
                    if response is None or response.status >= 400:
                        say(f"skipped {name} ({path}): HTTP {response.status if response else '?'}")
                        continue
                    if name in PREPARE:
                        PREPARE[name](page)
                    saved.append(shoot(page, name, size))
                    if name in PARTS:
                        part, selector = PARTS[name]
                        saved.append(shoot(page, part, size, from_selector=selector))
            context.close()
        browser.close()
    return saved


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=[], help="page names to take (default: all)")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the {DATABASE} database afterwards")
    parser.add_argument(
        "--template",
        default="",
        help="copy this migrated, empty database (e.g. a --reuse-db test database) instead of migrating from scratch",
    )
    args = parser.parse_args(argv)

    admin_url, db_url = database_urls()
    env = {
        **os.environ,
        **LOCAL_KEYS,
        "DJANGO_READ_DOT_ENV_FILE": "False",
        "DEBUG": "True",
        "DATABASE_URL": db_url,
        # The demo photos of the throwaway database: kept apart from a developer's own uploads (git-ignored).
        "MEDIA_ROOT": str(ROOT / ".data" / "screens-media"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CELERY_TASK_ALWAYS_EAGER": "True",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.only:  # a full run replaces the folder: no stale image of a page that is gone
        for old in OUT.glob("*.png"):
            old.unlink()
    localstripe = server = None
    try:
        say(f"creating the throwaway database {DATABASE} ...")
        recreate_database(admin_url, template=args.template)
        localstripe, stripe_url = embedded.start_localstripe(embedded.free_port())
        env.update(STRIPE_API_HOST=stripe_url, STRIPE_JS_URL=f"{stripe_url}/js.stripe.com/v3/")
        say("migrating and seeding the demo data ...")
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        manage(env, "stripe_webhook_endpoint")
        setup = SETUP.replace("MERCHANT_EMAIL", repr(MERCHANT_EMAIL)).replace("CUSTOMER_EMAIL", repr(CUSTOMER_EMAIL))
        printed = manage(env, "shell", "-c", setup)
        pages = json.loads(next(line for line in printed.splitlines() if line.startswith("PAGES="))[6:])

        port = embedded.free_port()
        site = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 - a fixed command line
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env={**env, "SITE_URL": site},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not embedded.wait_for_http(f"{site}/accounts/login/", timeout=60, process=server):
            sys.exit("The development server did not come up.")
        say(f"taking screenshots from {site} ...")
        saved = take_screenshots(site, pages, set(args.only))
    finally:
        if server is not None:
            embedded.stop_process(server)
        if localstripe is not None:
            embedded.stop_process(localstripe)
        if not args.keep_db:
            recreate_database(admin_url, drop_only=True)
    total = sum(path.stat().st_size for path in saved)
    say(f"saved {len(saved)} screenshots in {OUT.relative_to(ROOT)} ({total / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
