"""Run a command with the machine's wall clock shifted, for it and every process it starts.

Reads: a shift such as +400d and the command line. Writes: nothing; exits with the command's code.

`python -m tests.clockshift +400d pytest -n auto` is `make test-clock`: the suite, its monitor
subprocesses and their SQLite timestamps all see a date 400 days ahead, so a fixture date that is
not built from the clock shows up as a failure. It preloads the libfaketime that the PyPI package
`libfaketime` builds from source (a dev dependency). Debian's libfaketime 0.9.10 does not work
for Python: faking the monotonic clock hangs threading.Event.wait, and not faking it makes
time.sleep fail with EINVAL. This build with DONT_FAKE_MONOTONIC=1 moves only the wall clock,
so timeouts, sleeps and the event loop run at their normal pace. Before the command runs, a
child process proves that the shift took effect and that sleeps and waits work.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

_SHIFT = re.compile(r"^([+-])(\d+)([dhm])$")
_UNIT = {"d": 86400, "h": 3600, "m": 60}
_PROBE = """
import json, threading, time
start = time.monotonic()
time.sleep(0.05)
threading.Event().wait(0.05)
print(json.dumps({"wall": time.time(), "slept": time.monotonic() - start}))
"""


def shift_seconds(shift: str) -> int:
    m = _SHIFT.match(shift)
    if not m:
        raise SystemExit(f"clockshift: expected a shift like +400d, -30d or +6h, got {shift!r}")
    return (1 if m.group(1) == "+" else -1) * int(m.group(2)) * _UNIT[m.group(3)]


def environment(shift: str) -> dict[str, str]:
    try:
        import libfaketime
    except ImportError:
        raise SystemExit(
            "clockshift: the libfaketime package is missing (make dev installs it)"
        ) from None
    _, additions = libfaketime.get_reload_information()
    env = dict(os.environ)
    for key, value in additions.items():
        if key == "LD_PRELOAD" and env.get("LD_PRELOAD"):
            value = f"{value}:{env['LD_PRELOAD']}"
        env[key] = value
    env["FAKETIME"] = shift
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    return env


def verify(env: dict[str, str], seconds: int) -> None:
    """Fail loudly unless a child really sees the shifted clock and can still sleep and wait."""
    before = time.time()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=20
    )
    if done.returncode != 0:
        raise SystemExit(f"clockshift: probe failed under libfaketime:\n{done.stderr}")
    probe = json.loads(done.stdout)
    seen = probe["wall"] - before
    if abs(seen - seconds) > 60:
        raise SystemExit(f"clockshift: clock moved {seen:.0f} s, wanted {seconds} s")
    if not 0.09 <= probe["slept"] < 5:
        raise SystemExit(f"clockshift: sleeps are broken under libfaketime ({probe['slept']} s)")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit("usage: python -m tests.clockshift SHIFT COMMAND [ARG...]")
    shift, command = argv[0], argv[1:]
    seconds = shift_seconds(shift)
    env = environment(shift)
    verify(env, seconds)
    shown = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(time.time() + seconds))
    print(f"clockshift: running with the clock at {shown} ({shift})", file=sys.stderr, flush=True)
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
