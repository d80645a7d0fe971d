"""Development-only tooling: embedded servers, the scale-data loader, the load benchmark.

Never imported by production code: settings add the `devtools` app (for `manage.py
load_scale_data`) only with DEBUG on or BOOKWISE_DEVTOOLS=1, and the production image
does not ship this package (.dockerignore). Development entry points (scripts/, the
tests) import it freely.
"""
