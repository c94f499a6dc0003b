"""Tests of pushlog.hub.store."""
