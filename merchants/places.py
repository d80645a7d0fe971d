"""Countries and timezones a merchant picks from, read from the tz database (the `tzdata` package).

`iso3166.tab` names the countries; `zone.tab` lists the canonical zones of
each country ("Europe/Lisbon", not the alias "Portugal" nor "Etc/GMT+3"). The
timezone select shows those zones grouped by region (the part before the first
slash), plus UTC.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections import defaultdict

from merchants.models import _iana_timezones

# Regions in the order a select shows them.
_REGION_ORDER = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian")


def _tz_table(name: str) -> list[list[str]]:
    text = importlib.resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@functools.cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name, sorted by name."""
    names = {row[0]: row[1] for row in _tz_table("iso3166.tab")}
    return dict(sorted(names.items(), key=lambda item: item[1]))


def country_choices() -> list[tuple[str, str]]:
    return [("", "Choose a country")] + list(countries().items())


@functools.cache
def timezone_groups() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """((region, ((zone, label), ...)), ...): the canonical zones of zone.tab by region, then UTC."""
    available = _iana_timezones()
    by_region: dict[str, set[str]] = defaultdict(set)
    for row in _tz_table("zone.tab"):
        zone = row[2]
        if zone in available:
            by_region[zone.split("/", 1)[0]].add(zone)
    regions = sorted(by_region, key=lambda r: (_REGION_ORDER.index(r) if r in _REGION_ORDER else 99, r))
    groups = [
        (region, tuple((zone, zone.split("/", 1)[1].replace("_", " ")) for zone in sorted(by_region[region])))
        for region in regions
    ]
    groups.append(("Other", (("UTC", "UTC"),)))
    return tuple(groups)


@functools.cache
def curated_timezones() -> frozenset[str]:
    return frozenset(zone for _, zones in timezone_groups() for zone, _ in zones)


def timezone_choices(*, keep: str = "") -> list:
    """Grouped choices for a select (optgroups). `keep`: a current value outside the list stays selectable."""
    choices: list = [("", "Choose a timezone")]
    if keep and keep not in curated_timezones():
        choices.append((keep, keep.replace("_", " ")))
    choices += [(region, list(zones)) for region, zones in timezone_groups()]
    return choices
