"""This daemon's part of the work when several daemons share one database.

Reads/writes: job leases (storage/leases.py). Every daemon schedules every source; before a poll
or crawl it asks to hold that job, and runs it only when it does. A live daemon keeps what it
holds (renewed every third of a lease) and takes a free job only up to its fair share, so two
daemons split the sources; a daemon that stops hands its jobs over at once, one that dies one
lease later.
"""

from __future__ import annotations

import logging

from monitor.clock import Clock
from monitor.deliver.claims import dead
from storage import leases
from storage.db import Database

log = logging.getLogger("monitor.daemon")


class JobShares:
    def __init__(self, db: Database, owner: str, seconds: float, jobs: int, now: Clock) -> None:
        self.db = db
        self.owner = owner
        self.seconds = seconds
        self.jobs = jobs
        self.now = now

    def join(self) -> None:
        """Say this daemon is alive (its own row), so the others count it in their shares."""
        with self.db.write() as conn:
            leases.take(conn, leases.DAEMON + self.owner, self.owner, self.now(), self.seconds)

    def hold(self, job: str) -> bool:
        """Whether this daemon runs `job` now: it holds the lease, or took it."""
        now = self.now()
        with self.db.write() as conn:
            held = leases.live(conn, now)  # a lapsed lease is free whoever owned it
            gone = dead({lease.owner for lease in held} - {self.owner})
            current = [lease for lease in held if lease.owner not in gone]
            holder = next((lease.owner for lease in current if lease.job == job), None)
            if holder is not None and holder != self.owner:
                return False
            if holder is None and not leases.fair_share(current, self.owner, self.jobs):
                return False  # free, but this daemon has its share: another takes it
            taken = leases.take(conn, job, self.owner, now, self.seconds, gone)
        if taken and holder is None:
            log.info("job taken", extra={"job": job, "owner": self.owner})
        return taken

    def renew(self) -> None:
        now = self.now()
        with self.db.write() as conn:
            leases.renew(conn, self.owner, now)
            leases.take(conn, leases.DAEMON + self.owner, self.owner, now, self.seconds)

    def leave(self) -> None:
        with self.db.write() as conn:
            leases.release(conn, self.owner, self.now())
