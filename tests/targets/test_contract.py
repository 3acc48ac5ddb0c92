"""The target contract (``contract.TargetContract``) run against every implementation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract import TargetContract

from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer
from bridge.targets.base import Target
from bridge.targets.exchange_db import ExchangeDbTarget
from bridge.targets.exchange_dir import ExchangeDirTarget
from bridge.targets.http import HttpTarget
from bridge.targets.memory import MemoryTarget


class TestMemoryTarget(TargetContract):
    @pytest.fixture
    def target(self) -> Target:
        return MemoryTarget()


class TestHttpTarget(TargetContract):
    """Against the sandbox portal on a free port: real HTTP, real signatures."""

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        self.portal = PortalServer(tmp_path / "portal.db")
        target = HttpTarget("portal", self.portal.start(), SANDBOX_KEY, SANDBOX_SECRET, timeout=10)
        yield target
        target.close()
        self.portal.stop()

    def reopen(self, target: Target) -> Target:
        return HttpTarget("portal", self.portal.base_url, SANDBOX_KEY, SANDBOX_SECRET, timeout=10)


class TestExchangeDbOnSqlite(TargetContract):
    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[Target]:
        self.url = f"sqlite:///{tmp_path / 'exchange.db'}"
        target = ExchangeDbTarget("exchange", self.url)
        yield target
        target.close()

    def reopen(self, target: Target) -> Target:
        return ExchangeDbTarget("exchange", self.url)


class TestExchangeDbOnPostgres(TargetContract):
    @pytest.fixture
    def target(self, pg_url: str) -> Iterator[Target]:
        self.url = pg_url
        target = ExchangeDbTarget("exchange", self.url)
        yield target
        target.close()

    def reopen(self, target: Target) -> Target:
        return ExchangeDbTarget("exchange", self.url)


class TestExchangeDir(TargetContract):
    @pytest.fixture
    def target(self, tmp_path: Path) -> Target:
        self.directory = tmp_path / "exchange"
        return ExchangeDirTarget("exchange", self.directory)

    def reopen(self, target: Target) -> Target:
        return ExchangeDirTarget("exchange", self.directory)
