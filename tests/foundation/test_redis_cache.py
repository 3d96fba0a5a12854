"""The Redis cache keeps one client per connection pool (config.cache)."""

from django.core.cache import caches
from redis.client import Redis

from tests.conftest import use_redis_cache


def test_every_call_shares_one_client_and_one_pool(settings, monkeypatch):
    use_redis_cache(settings)
    built = []
    real_init = Redis.__init__

    def counting_init(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Redis, "__init__", counting_init)
    cache = caches["default"]

    cache.set("greeting", "hello", 30)
    assert cache.get("greeting") == "hello"
    assert cache.add("greeting", "again", 30) is False
    cache.delete("greeting")
    assert cache.get("greeting") is None

    assert len(built) == 1
    client = cache._cache.get_client(write=True)
    assert client is cache._cache.get_client(write=False)
    assert client.connection_pool is cache._cache._get_connection_pool(True)
