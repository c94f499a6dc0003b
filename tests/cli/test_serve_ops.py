"""``pushlog serve`` retention and device-pruning options become HubConfig fields (``forever`` = None)."""

from __future__ import annotations

import argparse

import pytest

from pushlog.cli import build_parser
from pushlog.cli._serve import _config


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_retention_options() -> None:
    default = _config(_parse())
    assert default.retention == 30 * 86400
    assert default.retention_channels == {}
    config = _config(
        _parse(
            "--retention",
            "2w",
            "--retention-channel",
            "audit=365d",
            "--retention-channel",
            "legal=forever",
        )
    )
    assert config.retention == 14 * 86400
    assert config.retention_channels == {"audit": 365 * 86400, "legal": None}
    assert _config(_parse("--retention", "forever")).retention is None


@pytest.mark.parametrize("bad", [["--retention", "soon"], ["--retention-channel", "audit"]])
def test_bad_retention_is_a_usage_error(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(*bad)
    assert exit_info.value.code == 2
    assert "--retention" in capsys.readouterr().err


def test_device_inactive_days() -> None:
    assert _config(_parse()).device_inactive_days == 270
    assert _config(_parse("--device-inactive-days", "90")).device_inactive_days == 90
    assert _config(_parse("--device-inactive-days", "forever")).device_inactive_days is None


@pytest.mark.parametrize("bad", ["0", "-3", "soon", "inf"])
def test_bad_device_inactive_days_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse("--device-inactive-days", bad)
    assert exit_info.value.code == 2
    assert "--device-inactive-days" in capsys.readouterr().err
