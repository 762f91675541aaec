"""Baseline Celery tasks for the engine benchmark: a bare chain where each task enqueues the next."""

from __future__ import annotations

import os

import redis
from celery import shared_task

COUNTER = "bench:chains-done"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


@shared_task(name="bench.noop_chain", ignore_result=True)
def noop_chain(remaining: int) -> None:
    if remaining > 1:
        noop_chain.delay(remaining - 1)
    else:
        _redis().incr(COUNTER)
