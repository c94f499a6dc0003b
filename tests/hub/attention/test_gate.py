"""The attention gate (``hub/attention``): one pure decision per push and recipient, driven by a
hand-set moment (no database, no wall clock)."""

from __future__ import annotations

import datetime as _dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pushlog._levels import Level
from pushlog.hub.attention import (
    Cap,
    Category,
    Deliver,
    Digest,
    DigestSchedule,
    Hold,
    PreferenceDocument,
    PushFacts,
    QuietHours,
    Reason,
    Recipient,
    Skip,
    decide,
    next_digest,
    quiet_until,
    release_at,
)

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = [QuietHours(start="22:00", end="07:00")]
WARNING = PushFacts(level=int(Level.WARNING), channel="ops")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> _dt.datetime:
    return _dt.datetime(year, month, day, hour, minute, tzinfo=_dt.UTC)


def never_sent(period: _dt.timedelta, category: str | None) -> int:
    return 0


def person(**fields: Any) -> Recipient:
    return Recipient(document=PreferenceDocument(timezone="Europe/Berlin", **fields))


# -- quiet hours -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected_end"),
    [
        (utc(2026, 1, 14, 20, 59), None),  # 21:59 Berlin (UTC+1): not yet
        (utc(2026, 1, 14, 21, 0), utc(2026, 1, 15, 6, 0)),  # 22:00: until 07:00 the next morning
        (utc(2026, 1, 14, 23, 30), utc(2026, 1, 15, 6, 0)),  # after local midnight the window holds
        (utc(2026, 1, 15, 5, 59), utc(2026, 1, 15, 6, 0)),
        (utc(2026, 1, 15, 6, 0), None),  # 07:00: over
    ],
)
def test_quiet_hours_run_across_midnight_in_the_persons_zone(
    now: _dt.datetime, expected_end: _dt.datetime | None
) -> None:
    assert quiet_until(NIGHT, BERLIN, now) == expected_end
    decision = decide(person(quiet_hours=NIGHT), WARNING, now, sent_within=never_sent)
    assert decision == (Deliver() if expected_end is None else Hold(expected_end, Reason.QUIET_HOURS))


def test_quiet_hours_over_the_spring_dst_change_end_at_seven_local_time() -> None:
    # 2026-03-29: Berlin moves from UTC+1 to UTC+2 at 02:00. 22:00 on the 28th is 21:00 UTC, 07:00 on
    # the 29th is 05:00 UTC: an eight-hour night. A fixed offset would say 06:00 UTC (08:00 local).
    start = utc(2026, 3, 28, 21, 0)
    assert quiet_until(NIGHT, BERLIN, start) == utc(2026, 3, 29, 5, 0)
    assert quiet_until(NIGHT, BERLIN, utc(2026, 3, 29, 4, 59)) == utc(2026, 3, 29, 5, 0)
    assert quiet_until(NIGHT, BERLIN, utc(2026, 3, 29, 5, 0)) is None  # 07:00 CEST: awake
    assert quiet_until(NIGHT, BERLIN, utc(2026, 3, 28, 20, 59)) is None  # 21:59 CET


def test_quiet_hours_over_the_autumn_dst_change_last_ten_hours() -> None:
    # 2026-10-25: back from UTC+2 to UTC+1 at 03:00. 22:00 CEST = 20:00 UTC; 07:00 CET = 06:00 UTC.
    assert quiet_until(NIGHT, BERLIN, utc(2026, 10, 24, 20, 0)) == utc(2026, 10, 25, 6, 0)
    assert quiet_until(NIGHT, BERLIN, utc(2026, 10, 25, 5, 59)) == utc(2026, 10, 25, 6, 0)
    assert quiet_until(NIGHT, BERLIN, utc(2026, 10, 24, 19, 59)) is None


def test_quiet_hours_per_weekday() -> None:
    weekend = [QuietHours(start="00:00", end="00:00", days=["sat", "sun"])]  # all day, Sat and Sun
    saturday_noon = utc(2026, 1, 17, 11, 0)  # Saturday 12:00 Berlin
    friday_noon = utc(2026, 1, 16, 11, 0)
    # Saturday's window runs into Sunday's: quiet until Monday 00:00 local.
    assert quiet_until(weekend, BERLIN, saturday_noon) == utc(2026, 1, 18, 23, 0)
    assert quiet_until(weekend, BERLIN, friday_noon) is None


def test_feed_only_skips_instead_of_holding() -> None:
    decision = decide(
        person(quiet_hours=NIGHT, quiet_mode="feed"), WARNING, utc(2026, 1, 14, 23, 0), sent_within=never_sent
    )
    assert decision == Skip(Reason.QUIET_HOURS)


# -- CRITICAL bypass and time-sensitive ------------------------------------------------------------


def test_critical_bypasses_quiet_hours_and_caps_by_default() -> None:
    critical = PushFacts(level=int(Level.CRITICAL))
    night = utc(2026, 1, 14, 23, 0)
    caps = [Cap(max=1, per="hour")]
    assert (
        decide(person(quiet_hours=NIGHT, caps=caps), critical, night, sent_within=lambda p, c: 99)
        == Deliver()
    )


def test_critical_bypass_can_be_turned_off_per_device() -> None:
    critical = PushFacts(level=int(Level.CRITICAL))
    night = utc(2026, 1, 14, 23, 0)
    decision = decide(
        person(quiet_hours=NIGHT, critical_bypass=False), critical, night, sent_within=never_sent
    )
    assert decision == Hold(utc(2026, 1, 15, 6, 0), Reason.QUIET_HOURS)


def test_time_sensitive_app_notifications_bypass() -> None:
    urgent = PushFacts(level=int(Level.WARNING), category="security", time_sensitive=True)
    assert (
        decide(person(quiet_hours=NIGHT), urgent, utc(2026, 1, 14, 23, 0), sent_within=never_sent)
        == Deliver()
    )


# -- caps ------------------------------------------------------------------------------------------


def test_a_cap_counts_what_was_sent_and_sends_the_rest_to_the_next_digest() -> None:
    asked: list[tuple[_dt.timedelta, str | None]] = []

    def sent(period: _dt.timedelta, category: str | None) -> int:
        asked.append((period, category))
        return 3

    now = utc(2026, 1, 14, 10, 20)  # 11:20 Berlin
    three_an_hour = person(caps=[Cap(max=3, per="hour")])
    assert decide(three_an_hour, WARNING, now, sent_within=sent) == Digest(
        utc(2026, 1, 14, 11, 0), Reason.FREQUENCY_CAP
    )
    assert asked == [(_dt.timedelta(hours=1), None)]
    four_an_hour = person(caps=[Cap(max=4, per="hour")])
    assert decide(four_an_hour, WARNING, now, sent_within=sent) == Deliver()


def test_a_category_cap_applies_to_that_category_only() -> None:
    per_day = person(caps=[Cap(max=1, per="day", category="billing")])
    over = PushFacts(level=int(Level.WARNING), channel="billing")
    other = PushFacts(level=int(Level.WARNING), channel="ops")
    now = utc(2026, 1, 14, 10, 0)
    assert isinstance(decide(per_day, over, now, sent_within=lambda p, c: 1), Digest)
    assert decide(per_day, other, now, sent_within=lambda p, c: 1) == Deliver()


# -- categories and digests ------------------------------------------------------------------------


def test_categories_use_the_apps_default_until_the_person_chooses() -> None:
    app = {"promo": Category(default="off"), "weekly": Category(default="digest")}
    promo = PushFacts(level=int(Level.WARNING), category="promo")
    weekly = PushFacts(level=int(Level.WARNING), category="weekly")
    now = utc(2026, 1, 14, 10, 0)
    default = Recipient(document=PreferenceDocument(), categories=app, user=True)
    assert decide(default, promo, now, sent_within=never_sent) == Skip(Reason.CATEGORY_OFF)
    assert decide(default, weekly, now, sent_within=never_sent) == Digest(
        utc(2026, 1, 14, 11, 0), Reason.DIGEST
    )
    chose = Recipient(document=PreferenceDocument(categories={"promo": "push"}), categories=app, user=True)
    assert decide(chose, promo, now, sent_within=never_sent) == Deliver()


def test_a_daily_digest_goes_out_at_the_local_time_chosen() -> None:
    daily = DigestSchedule(every="day", at="08:30")
    assert next_digest(daily, BERLIN, utc(2026, 1, 14, 6, 0)) == utc(2026, 1, 14, 7, 30)  # 07:00 local
    assert next_digest(daily, BERLIN, utc(2026, 1, 14, 7, 30)) == utc(2026, 1, 15, 7, 30)  # just sent
    assert next_digest(daily, BERLIN, utc(2026, 7, 14, 6, 0)) == utc(2026, 7, 14, 6, 30)  # summer: UTC+2
    hourly = DigestSchedule()
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30: the local top of the hour is half past in UTC
    assert next_digest(hourly, kolkata, utc(2026, 1, 14, 10, 40)) == utc(2026, 1, 14, 11, 30)


def test_a_digest_that_falls_into_quiet_hours_waits_for_them_to_end() -> None:
    sleeper = person(quiet_hours=NIGHT)
    assert release_at(sleeper, utc(2026, 1, 14, 23, 0)) == utc(2026, 1, 15, 6, 0)
    assert release_at(sleeper, utc(2026, 1, 15, 9, 0)) == utc(2026, 1, 15, 9, 0)


def test_an_app_users_level_and_channels_are_applied_with_a_reason() -> None:
    user = Recipient(document=PreferenceDocument(min_level="error", channels=["orders"]), user=True)
    now = utc(2026, 1, 14, 10, 0)
    assert decide(
        user, PushFacts(level=int(Level.WARNING), channel="orders"), now, sent_within=never_sent
    ) == Skip(Reason.BELOW_MIN_LEVEL)
    assert decide(
        user, PushFacts(level=int(Level.ERROR), channel="news"), now, sent_within=never_sent
    ) == Skip(Reason.CHANNEL_OFF)
    assert (
        decide(user, PushFacts(level=int(Level.ERROR), channel="orders"), now, sent_within=never_sent)
        == Deliver()
    )
