"""Waiting out a locked database (auditcoach.ops.dblock): backoff, give-up, other errors."""

import pytest
from django.db import OperationalError

from auditcoach.ops.dblock import backoff, is_locked, when_unlocked


def test_the_backoff_doubles_from_half_a_second_up_to_thirty() -> None:
    assert [backoff(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_locked_errors_are_waited_out_and_the_waits_are_those_of_the_backoff() -> None:
    waits: list[float] = []
    calls = iter([OperationalError("database is locked")] * 3 + [None])

    def run() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "written"

    assert when_unlocked(run, what="test", sleep=waits.append) == "written"
    assert waits == [0.5, 1.0, 2.0]


def test_other_errors_pass_at_once_and_a_lock_that_lasts_gives_up() -> None:
    waits: list[float] = []

    def broken() -> None:
        raise OperationalError("no such table: x")

    with pytest.raises(OperationalError, match="no such table"):
        when_unlocked(broken, what="test", sleep=waits.append)
    assert waits == []

    def locked() -> None:
        raise OperationalError("database table is locked")

    with pytest.raises(OperationalError, match="locked"):
        when_unlocked(locked, what="test", give_up_after=3.0, sleep=waits.append)
    assert waits == [0.5, 1.0]  # 0.5 + 1 + 2 would pass the three seconds
    assert is_locked(OperationalError("database is locked"))
    assert not is_locked(ValueError("database is locked"))


def test_with_backoff_waits_on_the_errors_it_is_told_and_says_when_it_waits() -> None:
    from auditcoach.ops.dblock import with_backoff

    events: list[object] = []
    calls = iter([KeyError("busy"), KeyError("busy"), None])

    def run() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "done"

    result = with_backoff(
        run,
        waits_on=lambda exc: isinstance(exc, KeyError),
        what="test",
        give_up_after=60,
        sleep=events.append,
        waiting=events.append,
    )
    assert result == "done"
    assert events == [True, 0.5, False, True, 1.0, False]
    with pytest.raises(ValueError, match="other"):
        with_backoff(
            lambda: (_ for _ in ()).throw(ValueError("other")),
            waits_on=lambda exc: isinstance(exc, KeyError),
            what="test",
            give_up_after=60,
            sleep=events.append,
        )
