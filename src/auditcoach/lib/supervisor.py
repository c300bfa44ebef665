"""A small process supervisor: start programs, restart the ones that die, stop them all.

`Supervisor(programs).run()` starts each program as a child process (in its own process
group, so a Ctrl-C reaches the supervisor only and every child is stopped the same, graceful
way), restarts a child that exits with a backoff that doubles while it keeps dying quickly
(1 s, 2 s, 4 s ... up to 30 s; a child that ran for `stable_after` seconds starts over at
1 s), and on SIGTERM or SIGINT sends SIGTERM to every child, waits up to `stop_timeout`
seconds for them, then kills what is left. It returns 0 after a requested stop.
"""

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType


@dataclass(frozen=True)
class Program:
    """A command to keep running: a name for the logs, its argv and extra environment."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    program: Program
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = 0.0
    restarts: int = 0


type Log = Callable[[str, Mapping[str, object]], None]


def _no_log(event: str, fields: Mapping[str, object]) -> None:
    return None


class Supervisor:
    def __init__(
        self,
        programs: Sequence[Program],
        *,
        log: Log = _no_log,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 30.0,
        stop_timeout: float = 40.0,
        poll_interval: float = 0.1,
    ) -> None:
        if not programs:
            raise ValueError("a supervisor needs at least one program")
        names = [p.name for p in programs]
        if len(set(names)) != len(names):
            raise ValueError(f"program names must be unique: {names}")
        self.children = [_Child(program=p) for p in programs]
        self.log = log
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._stop_signal: int | None = None

    def restarts(self, name: str) -> int:
        """How many times the program called `name` was restarted."""
        return next(c.restarts for c in self.children if c.program.name == name)

    def stop(self) -> None:
        """Ask `run` to stop every child and return (safe from any thread)."""
        self._stop.set()

    def run(self, *, install_signal_handlers: bool = True) -> int:
        previous: dict[signal.Signals, object] = {}
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            for child in self.children:
                self._start(child)
            while not self._stop.is_set() and self._stop_signal is None:
                self._tend()
                self._stop.wait(self.poll_interval)
            self._stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)  # type: ignore[arg-type]  # what signal() returned
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only a plain assignment: Event.set() takes a lock the interrupted main thread may
        # hold inside Event.wait(), which would deadlock. The loop sees it within a poll.
        self._stop_signal = signum

    def _start(self, child: _Child) -> None:
        env = {**os.environ, **child.program.env}
        child.process = subprocess.Popen(list(child.program.argv), env=env, process_group=0)
        child.started_at = time.monotonic()
        child.restart_at = None
        self.log(
            "started",
            {"program": child.program.name, "pid": child.process.pid, "restarts": child.restarts},
        )

    def _tend(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is not None:
                code = child.process.poll()
                if code is None:
                    continue
                ran = now - child.started_at
                if ran >= self.stable_after or child.backoff == 0:
                    child.backoff = self.backoff_initial
                else:
                    child.backoff = min(child.backoff * 2, self.backoff_max)
                child.process = None
                child.restart_at = now + child.backoff
                self.log(
                    "exited",
                    {
                        "program": child.program.name,
                        "returncode": code,
                        "ran_seconds": round(ran, 1),
                        "restart_in_seconds": child.backoff,
                    },
                )
            elif child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._start(child)

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        signal_name = signal.Signals(self._stop_signal).name if self._stop_signal else None
        self.log("stopping", {"signal": signal_name, "programs": [c.program.name for c in running]})
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):  # it died just now
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log("killed", {"program": child.program.name, "pid": child.process.pid})
                child.process.kill()
                child.process.wait()
        self.log("stopped", {})
