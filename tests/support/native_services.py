"""The FCM and APNs stand-ins as pytest fixtures, and the hub configuration that points at them.

``fcm`` and ``apns`` run one stand-in each for a test; ``native`` is the ``HubConfig`` fields (service
account file, APNs key file, origins, CA) for ``hub_factory(**native)``, its files written under the
test's ``tmp_path``. A conftest imports them to offer them to a test directory.

Request ``native`` before ``hub_factory`` (pytest tears fixtures down in reverse order of setting them
up): the hub must stop first, since the APNs stand-in stopped under the hub's open HTTP/2 connection
waits out its 10 s shutdown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.apns_service import ApnsService
from tests.support.fcm_service import FcmService


@pytest.fixture
def fcm() -> Iterator[FcmService]:
    with FcmService() as service:
        yield service


@pytest.fixture
def apns(tmp_path: Path) -> Iterator[ApnsService]:
    with ApnsService(tmp_path) as service:
        yield service


@pytest.fixture
def native(tmp_path: Path, fcm: FcmService, apns: ApnsService) -> dict[str, Any]:
    """``HubConfig`` fields for FCM and APNs through this test's stand-ins."""
    account = tmp_path / "service-account.json"
    account.write_text(json.dumps(fcm.service_account()))
    key = tmp_path / "AuthKey_TEST.p8"
    key.write_text(apns.key_pem())
    return dict(
        fcm_credentials=account,
        fcm_base_url=fcm.origin,
        apns_key=key,
        apns_key_id=apns.key_id,
        apns_team_id=apns.team_id,
        apns_topic=apns.topic,
        apns_environment="sandbox",
        apns_base_url=apns.origin,
        apns_ca_file=apns.ca_file,
    )
