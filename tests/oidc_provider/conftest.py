"""`oidc_provider_factory` starts real OpenID Providers (harness.start_provider) and stops
every one it started when the test ends, passed or failed. A node start costs about 0.7 s:
tests that only read from a provider can share one through `module_oidc_provider_factory`."""

from collections.abc import Iterator

import pytest

from tests.oidc_provider.harness import Provider, start_provider


class ProviderFactory:
    def __init__(self) -> None:
        self.started: list[Provider] = []

    def __call__(self, **options) -> Provider:
        provider = start_provider(**options)
        self.started.append(provider)
        return provider

    def stop_all(self) -> None:
        while self.started:
            self.started.pop().stop()


@pytest.fixture
def oidc_provider_factory() -> Iterator[ProviderFactory]:
    factory = ProviderFactory()
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def module_oidc_provider_factory() -> Iterator[ProviderFactory]:
    factory = ProviderFactory()
    yield factory
    factory.stop_all()
