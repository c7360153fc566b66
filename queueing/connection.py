"""The Redis connection mailhub's own keys use (the same server as the RQ queues)."""

import os

import redis
from django.conf import settings

_clients: dict[tuple[int, str], redis.Redis] = {}


def get_redis() -> redis.Redis:
    """One client per process and URL: a connection pool must not cross a fork."""
    key = (os.getpid(), settings.REDIS_URL)
    client = _clients.get(key)
    if client is None:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5
        )
        _clients[key] = client
    return client
