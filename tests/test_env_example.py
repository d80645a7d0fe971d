"""`.env.example` documents every variable that settings read (STYLE.md rule 9)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_lists_every_variable_settings_read():
    settings_source = (ROOT / "bookwise" / "settings.py").read_text()
    read = set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", settings_source))
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))

    assert read, "no env(...) calls found in settings.py"
    assert read - documented == set()
