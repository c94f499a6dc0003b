"""Tests of pushlog.hub.api (a package so their basenames do not clash with tests/cli)."""
