"""The one place that turns UTC instants into local dates and times, and local wall-clock times into instants.

Whose zone: a reader sees times in their own zone (`users.time_zone`), else the company's (kanban.company).
Robot delays (`at_time`, business days) and activity due times are wall-clock times in the company zone unless
the robot names another (`delay.time_zone`).

DST rule (`localize`): a local time that does not exist (02:30 on the spring-forward night in Europe/Paris)
is shifted forward by the gap (03:30 local, the same instant as 02:30 at the old offset); a local time that
happens twice (02:30 on the autumn night) means its first occurrence (zoneinfo's fold=0, still summer time).
A daily 09:30 stays at 09:30 local across both changes, because each day's target is computed from the local
date, never by adding 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.exc import UnmappedInstanceError

from kanban import clock, company


def zone_named(name: str | None) -> tzinfo | None:
    """The zone of an IANA name; None for no name or an unknown one."""
    if not name or name not in company.zone_names():
        return None
    return ZoneInfo(name)


def session_of(obj: Any) -> Session | None:
    if obj is None:
        return None
    try:
        return object_session(obj)
    except UnmappedInstanceError:
        return None


def company_zone(session: Session | None = None) -> tzinfo:
    """The company's time zone (read in `session` when given, else this process's copy)."""
    return zone_named(company.settings(session).time_zone) or UTC


def zone_of(user: Any = None) -> tzinfo:
    """The reader's time zone: their own (`time_zone`), else the company's."""
    own = zone_named(getattr(user, "time_zone", None))
    return own or company_zone(session_of(user))


def local_now(user: Any = None) -> datetime:
    """Now, in the user's time zone."""
    return clock.now().astimezone(zone_of(user))


def today(user: Any = None) -> date:
    """Today's date where the user is."""
    return local_now(user).date()


def to_local(instant: datetime, user: Any = None) -> datetime:
    """A stored (UTC) instant in the user's time zone."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone_of(user))


def localize(day: date, at: time, zone: tzinfo) -> datetime:
    """The instant (aware, in `zone`) of a wall-clock time on a date, by the DST rule of the module docstring."""
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    # fold=0 picks the first of two repeated times; for a nonexistent time it uses the offset before the gap,
    # which the UTC round trip turns into the wall-clock time after the gap.
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def next_at(now: datetime, at: time, zone: tzinfo, days: Iterable[int] | None = None) -> datetime:
    """The first instant at or after `now` when it is `at` o'clock in `zone` (on one of the ISO weekdays
    `days`, when given), as UTC."""
    allowed = set(days) if days is not None else None
    day = now.astimezone(zone).date()
    for _ in range(8 + 366):
        if allowed is None or day.isoweekday() in allowed:
            target = localize(day, at, zone)
            if target >= now:
                return target.astimezone(UTC)
        day += timedelta(days=1)
    return now


def due_at(due_date: date, due_time: time | None, zone: tzinfo | None = None) -> str:
    """An activity's due moment as ISO 8601: the date alone, or the date and time (wall-clock in the company
    zone, or `zone`) with its offset, which readers convert to their own zone."""
    if due_time is None:
        return due_date.isoformat()
    return localize(due_date, due_time, zone or company_zone()).isoformat()


def activity_state(due_date: date, done: bool, on: date) -> str:
    """done | overdue (due before `on`) | today | upcoming — by date, in the assignee's zone."""
    if done:
        return "done"
    if due_date < on:
        return "overdue"
    return "today" if due_date == on else "upcoming"


def add_business_days(start: date, days: int, business_days: Iterable[int] | None = None) -> date:
    """The date `days` working days after `start`; working days are ISO weekdays (default Monday to Friday,
    the company's setting when given)."""
    working = set(business_days or (1, 2, 3, 4, 5)) or {1, 2, 3, 4, 5}
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.isoweekday() in working:
            left -= 1
    return current


def next_weekday(start: date, weekday: int) -> date:
    """The first date after `start` falling on `weekday` (0 = Monday … 6 = Sunday)."""
    return start + timedelta(days=(weekday - start.weekday() - 1) % 7 + 1)
