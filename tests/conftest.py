"""The whole suite: its log output is scanned for secrets (see tests/log_scan.py)."""

pytest_plugins = ["log_scan", "pytester"]
