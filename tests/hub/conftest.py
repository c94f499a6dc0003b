"""Hub tests use the shared hub fixtures."""

from tests.support.hub_server import hub, hub_factory

__all__ = ["hub", "hub_factory"]
