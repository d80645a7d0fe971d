#!/usr/bin/env python
"""BookWise load benchmark (issue 6): the command line of `devtools/loadbench/` (its docstring, or --help).

    .venv/bin/python scripts/loadbench.py {mixed,service,hot-slot,wrk,compare} [options]

The same as `python -m devtools.loadbench` from the repository root.
"""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
runpy.run_module("devtools.loadbench", run_name="__main__", alter_sys=True)
