"""The supervisor restarts a child that dies, forwards SIGTERM and stops every child.

Waiting is a bounded loop on an observable fact (a file's content, a process's exit), never a
fixed sleep.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from auditcoach.lib.supervisor import Program, Supervisor


def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_child_that_dies_is_restarted_and_stop_ends_every_child(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    steady_pid = tmp_path / "steady.pid"
    dies = Program(
        "dies",
        [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('run\\n'); raise SystemExit(3)"],
    )
    steady = Program(
        "steady",
        [
            sys.executable,
            "-c",
            f"import os, time; open({str(steady_pid)!r}, 'w').write(str(os.getpid()));"
            " time.sleep(600)",
        ],
    )
    events: list[tuple[str, dict[str, object]]] = []

    def log(event: str, fields: Mapping[str, object]) -> None:
        events.append((event, dict(fields)))

    supervisor = Supervisor(
        [dies, steady], log=log, backoff_initial=0.01, backoff_max=0.05, poll_interval=0.01
    )
    thread = threading.Thread(target=supervisor.run, kwargs={"install_signal_handlers": False})
    thread.start()
    try:
        _until(lambda: len(_lines(runs)) >= 4 and steady_pid.exists() and steady_pid.read_text())
    finally:
        supervisor.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert supervisor.restarts("dies") >= 3
    assert supervisor.restarts("steady") == 0
    exits = [f for e, f in events if e == "exited" and f["program"] == "dies"]
    assert exits[0]["returncode"] == 3
    # the backoff doubles while the child keeps dying at once, up to the maximum (the 4th
    # run began only after the 3rd exit was seen)
    delays = [f["restart_in_seconds"] for f in exits]
    assert delays[:3] == [0.01, 0.02, 0.04]
    assert all(isinstance(d, float) and d <= 0.05 for d in delays)
    # the steady child was stopped with the supervisor
    pid = int(steady_pid.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert events[-1][0] == "stopped"


_SUPERVISED = """
import sys
from auditcoach.lib.supervisor import Program, Supervisor
child = (
    "import signal, sys, time\\n"
    "def stop(signum, frame):\\n"
    "    open(sys.argv[1], 'a').write('TERM\\\\n')\\n"
    "    sys.exit(0)\\n"
    "signal.signal(signal.SIGTERM, stop)\\n"
    "open(sys.argv[1], 'a').write('up\\\\n')\\n"
    "time.sleep(600)\\n"
)
programs = [Program(f"c{i}", [sys.executable, "-c", child, sys.argv[i]]) for i in (1, 2)]
sys.exit(Supervisor(programs, poll_interval=0.01).run())
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_are_forwarded_to_every_child(tmp_path: Path, signum: int) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    process = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISED, str(first), str(second)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    try:
        _until(lambda: _lines(first) == ["up"] and _lines(second) == ["up"])
        process.send_signal(signum)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert _lines(first) == ["up", "TERM"]
    assert _lines(second) == ["up", "TERM"]


def test_a_child_that_ignores_sigterm_is_killed_after_the_stop_timeout(tmp_path: Path) -> None:
    started = tmp_path / "started"
    stubborn = Program(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            f" open({str(started)!r}, 'w').write('x'); time.sleep(600)",
        ],
    )
    events: list[str] = []
    supervisor = Supervisor(
        [stubborn], log=lambda e, f: events.append(e), stop_timeout=0.2, poll_interval=0.01
    )
    thread = threading.Thread(target=supervisor.run, kwargs={"install_signal_handlers": False})
    thread.start()
    _until(started.exists)
    supervisor.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "killed" in events


def test_program_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([Program("a", ["true"]), Program("a", ["true"])])
    with pytest.raises(ValueError, match="at least one"):
        Supervisor([])
