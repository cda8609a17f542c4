"""The AWS clients of this process: one per service and settings, created on first use and
reused by every later invocation of a warm function (a new client costs milliseconds and
its own connection pool; docs/lambda.md measures it).

Each caller says how many attempts botocore may make: most retry on their own terms (or
must not retry at all), so they pass 1.
"""

import functools
from typing import Any

import boto3
from botocore.config import Config


@functools.cache
def aws_client(service: str, *, connect_timeout: float, read_timeout: float, max_attempts: int,
               endpoint_url: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, config=Config(
        connect_timeout=connect_timeout, read_timeout=read_timeout,
        retries={"total_max_attempts": max_attempts, "mode": "standard"}))
