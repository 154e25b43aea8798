"""Time zones: the reader's zone, company-zone robot delays, and the DST rule (kanban.timezones docstring)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kanban import company, i18n, timezones
from kanban.models import User
from kanban.web import timefmt
from robots.scheduling import due_at

PARIS = ZoneInfo("Europe/Paris")
ROME = ZoneInfo("Europe/Rome")
FIRM = company.Settings(language="fr", time_zone="Europe/Paris", currency="EUR", business_days=(1, 2, 3, 4, 5))


def _deal() -> Any:
    return SimpleNamespace(fields={})


def _at(delay: dict[str, Any], now: datetime) -> datetime:
    return due_at(delay, _deal(), now, FIRM)


def test_a_0930_paris_robot_stays_at_0930_local_across_the_spring_change() -> None:
    # 28 March 2026 is the last day of CET (UTC+1); on 29 March clocks go 02:00 → 03:00 (UTC+2).
    delay = {"type": "at_time", "time": "09:30"}
    before = _at(delay, datetime(2026, 3, 28, 12, 0, tzinfo=UTC))  # Saturday afternoon: Sunday's 09:30
    assert before == datetime(2026, 3, 29, 7, 30, tzinfo=UTC)  # 09:30 CEST = 07:30 UTC
    assert before.astimezone(PARIS).time() == time(9, 30)
    friday = _at(delay, datetime(2026, 3, 27, 6, 0, tzinfo=UTC))
    assert friday == datetime(2026, 3, 27, 8, 30, tzinfo=UTC)  # 09:30 CET = 08:30 UTC
    assert friday.astimezone(PARIS).time() == time(9, 30)


def test_a_0930_paris_robot_stays_at_0930_local_across_the_autumn_change() -> None:
    # 25 October 2026: clocks go 03:00 → 02:00 (UTC+2 → UTC+1).
    delay = {"type": "at_time", "time": "09:30"}
    saturday = _at(delay, datetime(2026, 10, 24, 5, 0, tzinfo=UTC))
    sunday = _at(delay, datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    assert saturday == datetime(2026, 10, 24, 7, 30, tzinfo=UTC)
    assert sunday == datetime(2026, 10, 25, 8, 30, tzinfo=UTC)
    assert {saturday.astimezone(PARIS).time(), sunday.astimezone(PARIS).time()} == {time(9, 30)}


def test_nonexistent_local_time_is_shifted_forward_by_the_gap() -> None:
    # 02:30 does not exist in Paris on 29 March 2026: it becomes 03:30 CEST (01:30 UTC).
    moment = timezones.localize(date(2026, 3, 29), time(2, 30), PARIS)
    assert moment.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert moment.time() == time(3, 30)
    robot = _at({"type": "at_time", "time": "02:30"}, datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    assert robot == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_repeated_local_time_means_its_first_occurrence() -> None:
    # 02:30 happens twice in Paris on 25 October 2026 (CEST, then CET): the first one, 00:30 UTC.
    moment = timezones.localize(date(2026, 10, 25), time(2, 30), PARIS)
    assert moment.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert moment.utcoffset().total_seconds() == 7200
    robot = _at({"type": "at_time", "time": "02:30"}, datetime(2026, 10, 24, 22, 0, tzinfo=UTC))
    assert robot == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_at_time_uses_the_robots_own_zone_when_it_names_one() -> None:
    now = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    assert _at({"type": "at_time", "time": "09:00"}, now) == datetime(2026, 6, 1, 7, 0, tzinfo=UTC)  # Paris
    named = _at({"type": "at_time", "time": "09:00", "time_zone": "America/New_York"}, now)
    assert named == datetime(2026, 6, 1, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(("now", "days", "expected"), [
    # Thursday 4 June 2026 10:00 Paris: 2 business days → Monday 8 June, 09:00 Paris (07:00 UTC).
    (datetime(2026, 6, 4, 8, 0, tzinfo=UTC), 2, datetime(2026, 6, 8, 7, 0, tzinfo=UTC)),
    # Saturday: 1 business day → Monday.
    (datetime(2026, 6, 6, 8, 0, tzinfo=UTC), 1, datetime(2026, 6, 8, 7, 0, tzinfo=UTC)),
    # 0 days on a Monday before 09:00 → the same morning; on a Saturday → Monday.
    (datetime(2026, 6, 8, 5, 0, tzinfo=UTC), 0, datetime(2026, 6, 8, 7, 0, tzinfo=UTC)),
    (datetime(2026, 6, 6, 5, 0, tzinfo=UTC), 0, datetime(2026, 6, 8, 7, 0, tzinfo=UTC)),
    # Across the spring change: Friday 27 March 2026 → Tuesday 31 March 09:00 CEST (07:00 UTC).
    (datetime(2026, 3, 27, 10, 0, tzinfo=UTC), 2, datetime(2026, 3, 31, 7, 0, tzinfo=UTC)),
])
def test_business_day_delay(now: datetime, days: int, expected: datetime) -> None:
    assert _at({"type": "business_days", "days": days, "time": "09:00"}, now) == expected


def test_business_days_follow_the_company_setting() -> None:
    six_days = company.Settings(time_zone="Europe/Rome", business_days=(1, 2, 3, 4, 5, 6))
    friday = datetime(2026, 6, 5, 8, 0, tzinfo=UTC)
    assert due_at({"type": "business_days", "days": 1, "time": "09:00"}, _deal(), friday, six_days) == \
        datetime(2026, 6, 6, 7, 0, tzinfo=UTC)  # Saturday counts
    assert timezones.add_business_days(date(2026, 6, 5), 1, (1, 2, 3, 4, 5, 6)) == date(2026, 6, 6)
    assert timezones.add_business_days(date(2026, 6, 5), 1) == date(2026, 6, 8)


def test_the_reader_sees_times_in_their_zone_else_the_companys() -> None:
    company.forget()
    try:
        rome = SimpleNamespace(time_zone="Europe/Rome")
        nobody = SimpleNamespace(time_zone=None)
        assert timezones.zone_of(rome) == ROME
        assert timezones.zone_of(nobody) == ZoneInfo("UTC")  # no company settings saved: UTC
        company._last = FIRM  # what a request in this process read last
        assert timezones.zone_of(nobody) == PARIS
        assert timezones.zone_of(SimpleNamespace(time_zone="Not/AZone")) == PARIS  # an unknown name is ignored
        stamp = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)
        # The company speaks French: a reader without a language of their own reads French.
        assert timefmt.friendly(stamp, timezones.zone_of(nobody), now=stamp) == "aujourd'hui 14:05"
        with i18n.use_language("en"):
            assert timefmt.friendly(stamp, timezones.zone_of(nobody), now=stamp) == "today 14:05"
            assert timefmt.friendly(stamp, timezones.zone_of(SimpleNamespace(time_zone="Asia/Tokyo")),
                                    now=stamp) == "today 22:05"
    finally:
        company.forget()


def test_activity_due_times_are_company_wall_clock_shown_in_the_readers_zone() -> None:
    moment = timezones.due_at(date(2026, 12, 7), time(9, 30), PARIS)
    assert moment == "2026-12-07T09:30:00+01:00"
    now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert timefmt.due(moment, ZoneInfo("America/New_York"), now=now) == "today 03:30"
    assert timefmt.due(moment, PARIS, now=now) == "today 09:30"


def test_a_users_zone_is_read_in_their_session(runtime: Any) -> None:
    with runtime.sessions() as s, s.begin():
        company.update(s, {"time_zone": "Europe/Rome"})
        user = User(email="z@example.com", name="Zed", role="rep")
        s.add(user)
        s.flush()
        assert timezones.zone_of(user) == ROME
        user.time_zone = "Asia/Tokyo"
        assert timezones.zone_of(user) == ZoneInfo("Asia/Tokyo")
