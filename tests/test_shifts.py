"""Shifts in the factory's clock: station.line.shifts.shift_start (Asia/Shanghai, UTC+8)."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.line.shifts import shift_start

TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)
STARTS = ["06:00", "14:00", "22:00"]


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("now", "began"), [
    (local(2024, 5, 1, 6, 0), local(2024, 5, 1, 6, 0)),
    (local(2024, 5, 1, 7, 30), local(2024, 5, 1, 6, 0)),
    (local(2024, 5, 1, 13, 59, 59), local(2024, 5, 1, 6, 0)),
    (local(2024, 5, 1, 14, 0), local(2024, 5, 1, 14, 0)),
    (local(2024, 5, 1, 21, 59, 59, 999999), local(2024, 5, 1, 14, 0)),
    (local(2024, 5, 1, 22, 0), local(2024, 5, 1, 22, 0)),
    (local(2024, 5, 1, 23, 59, 59), local(2024, 5, 1, 22, 0)),
    # the night shift crosses midnight: after it, it still began yesterday at 22:00
    (local(2024, 5, 2, 0, 0), local(2024, 5, 1, 22, 0)),
    (local(2024, 5, 2, 3, 0), local(2024, 5, 1, 22, 0)),
    (local(2024, 5, 2, 5, 59, 59), local(2024, 5, 1, 22, 0)),
    (local(2025, 1, 1, 1, 0), local(2024, 12, 31, 22, 0)),
    (local(2024, 3, 1, 2, 0), local(2024, 2, 29, 22, 0)),
])
def test_the_shift_running_at_a_local_time(now, began):
    start = shift_start(now.astimezone(UTC), TZ, STARTS)
    assert start == began
    assert start.utcoffset() == timedelta(0)


def test_the_night_shift_in_utc():
    # 03:00 on 2 May in Shenzhen is 19:00 UTC on 1 May; the night shift began at 22:00 on
    # 1 May in Shenzhen, which is 14:00 UTC.
    start = shift_start(datetime(2024, 5, 1, 19, 0, tzinfo=UTC), TZ, STARTS)
    assert start == datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
    assert start.tzinfo is UTC


def test_a_utc_date_change_inside_the_morning_shift():
    # 23:30 UTC on 1 May is 07:30 on 2 May in Shenzhen: the morning shift, begun 22:00 UTC.
    start = shift_start(datetime(2024, 5, 1, 23, 30, tzinfo=UTC), TZ, STARTS)
    assert start == datetime(2024, 5, 1, 22, 0, tzinfo=UTC)


def test_the_order_of_the_configured_starts_does_not_matter():
    now = datetime(2024, 5, 1, 19, 0, tzinfo=UTC)
    assert shift_start(now, TZ, ["22:00", "06:00", "14:00"]) == shift_start(now, TZ, STARTS)


def test_the_clock_the_time_is_given_in_does_not_matter():
    now = datetime(2024, 5, 1, 19, 0, tzinfo=UTC)
    elsewhere = now.astimezone(timezone(timedelta(hours=-5)))
    assert shift_start(elsewhere, TZ, STARTS) == shift_start(now, TZ, STARTS)


def test_no_starts_means_one_shift_a_day_from_midnight():
    start = shift_start(datetime(2024, 5, 1, 19, 0, tzinfo=UTC), TZ, [])
    assert start == local(2024, 5, 2, 0, 0)


def test_one_start_a_day():
    start = shift_start(local(2024, 5, 2, 5, 0).astimezone(UTC), TZ, ["07:00"])
    assert start == local(2024, 5, 1, 7, 0)


@settings(max_examples=300, deadline=None)
@given(now=st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30),
                        timezones=st.just(UTC)))
def test_the_start_is_the_latest_configured_start_not_after_now(now):
    start = shift_start(now, TZ, STARTS)
    assert start <= now < start + timedelta(hours=8)
    assert start.astimezone(SHANGHAI).strftime("%H:%M") in STARTS
    assert start.astimezone(SHANGHAI).second == 0
