"""The import rules in pyproject.toml ([tool.importlinter]) hold, and they catch a break.

`scripts/dev.py lint` (run by CI before the tests) checks the same contracts;
the second test shows they fail on a deliberate violation, in a copy of the
source packages so the work tree is never touched.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACT_NAMES = {contract["id"]: contract["name"] for contract in CONFIG["contracts"]}


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    # Only the packages under `cwd` may be found, never those of the work tree.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def append(path: Path, code: str) -> None:
    path.write_text(path.read_text() + "\n\n" + code + "\n")


def test_import_contracts_are_kept():
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACT_NAMES.values():
        assert f"{name} KEPT" in result.stdout


def test_deliberate_violations_break_the_contracts(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    # The kernel importing an app.
    append(tmp_path / "bookwise" / "errors.py", "import bookings.services")
    # A lower app's service importing a higher app, even inside a function.
    append(tmp_path / "catalog" / "services.py", "def _violation():\n    from payments import models")
    # A domain module importing a higher app's adapter.
    append(tmp_path / "accounts" / "services.py", "import merchants.api")
    # Peers: payments and reviews import neither the other.
    append(tmp_path / "payments" / "services.py", "import reviews.models")
    # Production code importing the development tooling.
    append(tmp_path / "bookings" / "services.py", "import devtools")
    # Allowed: an adapter may import a higher app.
    append(tmp_path / "catalog" / "views.py", "import reviews.services")

    result = lint_imports(tmp_path)

    report = result.stdout
    assert result.returncode != 0, report
    assert f"{CONTRACT_NAMES['kernel']} BROKEN" in report
    assert f"{CONTRACT_NAMES['layers']} BROKEN" in report
    assert f"{CONTRACT_NAMES['devtools']} BROKEN" in report
    for broken in (
        "bookwise.errors -> bookings.services",
        "catalog.services -> payments.models",
        "accounts.services -> merchants.api",
        "payments.services -> reviews.models",
        "bookings.services -> devtools",
    ):
        assert broken in report
    assert "catalog.views -> reviews.services" not in report
