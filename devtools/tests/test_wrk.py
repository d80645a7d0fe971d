"""loadbench's wrk mode (devtools/loadbench/wrk.py) and the profile splitter (flame.py): the offline parts."""

import json
from collections import Counter

import pytest

from devtools.loadbench import flame
from devtools.loadbench.auth import Account
from devtools.loadbench.dataset import Dataset
from devtools.loadbench.wrk import (
    coprime_slots,
    duration_us,
    join_lines,
    median_summary,
    parse_wrk_output,
    ratio_to_health,
    summarise,
)

WRK_TEXT = """\
Running 10s test @ http://127.0.0.1:8000
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    25.52ms    3.05ms   1.20s    85.71%
    Req/Sec   626.71     62.53   767.00     71.00%
  Latency Distribution
     50%   25.00ms
     75%   26.45ms
     90%  812.00us
     99%    1.02s
  12480 requests in 10.01s, 3.05MB read
  Non-2xx or 3xx responses: 5
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:   1246.85
Transfer/sec:    311.63KB
"""


def test_durations_in_wrk_units():
    assert duration_us("812.00us") == 812.0
    assert duration_us("25.52ms") == pytest.approx(25_520.0)
    assert duration_us("1.02s") == pytest.approx(1_020_000.0)
    assert duration_us("2.00m") == pytest.approx(120_000_000.0)
    with pytest.raises(ValueError, match="not a wrk duration"):
        duration_us("fast")


def test_the_text_report_is_parsed():
    r = parse_wrk_output(WRK_TEXT)

    assert r["requests"] == 12480
    assert r["duration_s"] == pytest.approx(10.01)
    assert r["rps"] == pytest.approx(1246.85)
    assert r["p50_ms"] == pytest.approx(25.0)
    assert r["p90_ms"] == pytest.approx(0.812)
    assert r["p99_ms"] == pytest.approx(1020.0)
    assert r["mean_ms"] == pytest.approx(25.52)
    assert r["max_ms"] == pytest.approx(1200.0)
    assert r["non_2xx"] == 5
    assert r["socket_errors"] == {"connect": 0, "read": 2, "write": 0, "timeout": 1}


def test_the_scripts_json_line_wins_over_the_text():
    payload = {
        "requests": 2000,
        "duration_us": 10_000_000,
        "bytes": 1,
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 7, "timeout": 0},
        "latency_us": {"min": 1, "mean": 1500.0, "max": 9000, "stdev": 3.0, "p50": 1200, "p75": 1500, "p90": 2000,
                       "p99": 8000},
        "statuses": {"201": 1993, "409": 7},
        "codes": {"slot_full": 7},
    }  # fmt: skip
    r = parse_wrk_output(WRK_TEXT + "WRKJSON " + json.dumps(payload) + "\n")

    assert r["requests"] == 2000
    assert r["rps"] == pytest.approx(200.0)
    assert r["p50_ms"] == pytest.approx(1.2)
    assert r["p99_ms"] == pytest.approx(8.0)
    assert r["non_2xx"] == 7
    assert r["statuses"] == {"201": 1993, "409": 7}
    assert r["codes"] == {"slot_full": 7}


def test_output_without_a_summary_is_an_error():
    with pytest.raises(ValueError, match="requests in"):
        parse_wrk_output("unable to connect to 127.0.0.1:8000 Connection refused\n")


def test_the_ratio_uses_the_health_runs_on_either_side():
    assert ratio_to_health(500.0, 900.0, 1100.0) == pytest.approx(0.5)
    assert ratio_to_health(500.0, None, 1000.0) == pytest.approx(0.5)
    assert ratio_to_health(500.0, None, None) is None
    assert ratio_to_health(None, 1000.0, 1000.0) is None


def run(endpoint: str, rps: float) -> dict:
    return {"endpoint": endpoint, "rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "non_2xx": 0, "socket_errors": {}}


def test_a_level_is_summarised_with_each_endpoints_ratio_and_target():
    s = summarise([run("health", 1000.0), run("catalog", 450.0), run("health", 800.0), run("join", 300.0),
                   run("health", 1200.0), run("mixed", 400.0)])  # fmt: skip

    assert s["catalog"]["ratio_to_health"] == pytest.approx(0.5)
    assert s["catalog"]["ratio_ok"] is True
    assert s["join"]["ratio_to_health"] == pytest.approx(0.3)
    assert s["join"]["health_before_rps"] == 800.0
    assert s["join"]["health_after_rps"] == 1200.0
    assert s["mixed"]["ratio_to_health"] == pytest.approx(400.0 / 1200.0)
    assert s["mixed"]["ratio_ok"] is False  # target 0.4
    assert s["health"]["rps"] == pytest.approx(1000.0)
    assert s["health"]["runs"] == 3


def test_repeated_rounds_report_the_median_of_each_rounds_ratio():
    rounds = [
        summarise([run("health", 1000.0), run("catalog", 300.0), run("health", 1000.0)]),
        summarise([run("health", 500.0), run("catalog", 200.0), run("health", 500.0)]),  # a noisy round
        summarise([run("health", 1000.0), run("catalog", 350.0), run("health", 1000.0)]),
    ]
    rounds[1]["catalog"]["non_2xx"] = 2

    m = median_summary(rounds)

    # Each round against its own health: 0.30, 0.40, 0.35; the median of those, not 250/1000.
    assert m["catalog"]["round_ratios"] == pytest.approx([0.3, 0.4, 0.35])
    assert m["catalog"]["ratio_to_health"] == pytest.approx(0.35)
    assert m["catalog"]["rps"] == pytest.approx(300.0)
    assert m["catalog"]["ratio_ok"] is False  # target 0.5
    assert m["catalog"]["non_2xx"] == 2
    assert m["health"]["rps"] == pytest.approx(1000.0)
    assert m["health"]["runs"] == 6
    assert median_summary(rounds[:1]) is rounds[0]


def test_join_pairs_do_not_repeat_and_spread_over_customers_and_slots():
    customers = [Account(i, f"c{i}@x", access=f"tok{i}") for i in range(4)]
    slots = [(100 + i, 2) for i in range(10)]  # 10 is not coprime with 4: 9 slots are used
    ds = Dataset([1], [], [], slots, customers, [], {})

    assert len(coprime_slots(slots, 4)) == 9
    lines = join_lines(ds, 0, 4 * 9)
    pairs = [(line.split("\t")[1], line.split("\t")[2]) for line in lines]
    assert len(set(pairs)) == 36
    assert pairs[0][0] != pairs[1][0]
    assert pairs[0][1] != pairs[1][1]
    assert lines[0].split("\t")[3] == '{"party_size": 2}'


STACK = 'process 1:"gunicorn";SyncWorker.handle (gunicorn/workers/sync.py:141);'
HANDLER = STACK + "WSGIHandler.__call__ (django/core/handlers/wsgi.py:1);"
VIEW = HANDLER + "BaseHandler._get_response (django/core/handlers/base.py:1);"
SERIALIZER = VIEW + "ListSerializer.to_representation (rest_framework/serializers.py:1);"
AUTH = VIEW + "Request._authenticate (rest_framework/request.py:393);"
WAIT = "Connection.wait (psycopg/connection.py:1)"
COLLAPSED = "\n".join([
    'process 1:"gunicorn";Arbiter.run (gunicorn/arbiter.py:247) 50',
    STACK + "write (gunicorn/util.py:348) 10",
    VIEW + "DatabaseWrapper.is_usable (django/db/backends/postgresql/base.py:1);" + WAIT + " 20",
    AUTH + WAIT + " 5",
    AUTH + "decode (jwt/api_jwt.py:1) 5",
    SERIALIZER + "SQLCompiler.as_sql (django/db/models/sql/compiler.py:1) 30",
    SERIALIZER + "Field.get_attribute (rest_framework/fields.py:1) 20",
    VIEW + "Cursor.execute (psycopg/cursor.py:1);" + WAIT + " 10",
])  # fmt: skip


def test_the_profile_is_split_into_named_parts():
    parts, waiting, total = flame.split(flame.load_collapsed(COLLAPSED))

    assert total == 100  # the arbiter's samples are not a request's
    assert parts == Counter({
        "gunicorn: parse request, write response": 10,
        "CONN_HEALTH_CHECKS: SELECT 1 per request": 20,
        "authentication: JWT + user lookup": 10,
        "ORM: compile SQL": 30,
        "DRF serializers": 20,
        "PostgreSQL: waiting (in the view)": 10,
    })  # fmt: skip
    assert waiting["authentication: JWT + user lookup"] == 5
    text = flame.table(parts, waiting, total, rate=100.0, requests=10, cpu_ms=6.5)
    # 65 CPU samples share 6.5 ms: 30 of them are the compiler's; 100 samples at 100 Hz over 10 requests.
    assert "| ORM: compile SQL | 30 | 30.0 | 0 | 30.00 | 3.00 |" in text
    assert "| **all** | 100 | 100.0 | 35 | 100.00 | 6.50 |" in text
