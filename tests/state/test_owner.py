"""The lease owner name ``host:pid/n``: parsed in one place, alive asked in one place."""

from __future__ import annotations

import socket
import subprocess
import sys

from bridge import owner
from bridge.owner import Owner


def test_an_owner_name_reads_back_as_written():
    assert Owner.parse("web-1:4242/3") == Owner("web-1", 4242, 3)
    assert Owner.parse("web-1:4242") == Owner("web-1", 4242, None)
    assert str(Owner("web-1", 4242, 3)) == "web-1:4242/3"
    assert str(Owner("web-1", 4242)) == "web-1:4242"
    assert Owner.parse("fe80::1:77/0") == Owner("fe80::1", 77, 0)  # the last colon splits


def test_a_foreign_name_is_no_owner_and_counts_as_alive():
    for name in ("t", "host:", "host:pid", "host:12/x", ""):
        assert Owner.parse(name) is None, name
        assert owner.alive(name)


def test_only_a_process_of_this_host_that_ended_is_dead():
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    here = socket.gethostname()
    assert not Owner(here, ended.pid).alive()
    assert not owner.alive(f"{here}:{ended.pid}/0")
    assert Owner.this_process().alive()
    assert Owner(here + "-elsewhere", ended.pid).alive()  # not ours to tell
