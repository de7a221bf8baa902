"""The relay's structured JSON logger (Powertools). Log names, ids and numbers; never content."""

from __future__ import annotations

import logging
import sys

from aws_lambda_powertools import Logger

# stderr keeps stdout free for what a CLI prints; on Lambda both reach CloudWatch Logs.
logger = Logger(service="claude-relay", logger_handler=logging.StreamHandler(sys.stderr))
