"""Logs an operator reads: JSON lines, journald priorities, plain network errors, no
scheduler noise. Each through the real CLI (or APScheduler) in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

from tests.conftest import REPO


def _down_site_config(write_config, sandbox) -> Path:
    """A config whose site refuses connections: its server stopped, its port closed."""
    box = sandbox(items=3)
    config = write_config(box)
    box.site.stop()
    return config


def _run(config: Path, *args: str, stderr_file: Path, env: dict[str, str]) -> int:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    inherited.pop("JOURNAL_STREAM", None)
    with stderr_file.open("w") as err:
        return subprocess.run(
            [sys.executable, "-m", "bridge", "--config", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**inherited, "PYTHONPATH": str(REPO), **env},
            cwd=REPO,
            timeout=180,
        ).returncode


def test_json_log_lines_parse_and_name_the_error_in_plain_words(sandbox, write_config, tmp_path):
    config = _down_site_config(write_config, sandbox)
    err = tmp_path / "stderr.log"
    _run(config, "sync", "--once", "--no-deliver", stderr_file=err,
         env={"BRIDGE_BRIDGE_LOG_FORMAT": '"json"'})  # fmt: skip
    lines = err.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # every line one JSON object
    assert entries and all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert all(datetime.fromisoformat(e["time"]).utcoffset() is not None for e in entries)
    [failed] = [e for e in entries if e["level"] == "ERROR"]
    assert failed["logger"] == "bridge.crawl.run"
    assert re.fullmatch(
        r"yyedu: site unreachable: \d+ requests in a row failed; last: cannot connect to "
        r"http://127\.0\.0\.1:\d+/robots\.txt: connection refused",
        failed["message"],
    ), failed["message"]
    assert "NewConnectionError" not in err.read_text(encoding="utf-8")


def test_under_journald_each_line_has_a_priority_and_no_timestamp(sandbox, write_config, tmp_path):
    config = _down_site_config(write_config, sandbox)
    err = tmp_path / "stderr.log"
    err.touch()
    st = os.stat(err)  # the file the child's stderr will be: journald's stream, as it were
    _run(config, "sync", "--once", "--no-deliver", stderr_file=err,
         env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})  # fmt: skip
    lines = err.read_text(encoding="utf-8").splitlines()
    logged = [line for line in lines if line.startswith("<")]
    assert logged, lines
    assert all(re.match(r"<[3467]>(ERROR|WARNING|INFO|DEBUG) [\w.]+: ", x) for x in logged), logged
    errors = [x for x in logged if x.startswith("<3>")]
    assert len(errors) == 1 and errors[0].startswith(
        "<3>ERROR bridge.crawl.run: yyedu: site unreachable: "
    )
    assert not any(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", x) for x in logged)  # no own time


def test_a_journal_stream_that_is_not_stderr_changes_nothing(sandbox, write_config, tmp_path):
    config = _down_site_config(write_config, sandbox)
    err = tmp_path / "stderr.log"
    _run(config, "sync", "--once", "--no-deliver", stderr_file=err,
         env={"JOURNAL_STREAM": "1:1"})  # inherited from a unit, stderr redirected  # fmt: skip
    logged = [x for x in err.read_text(encoding="utf-8").splitlines() if " ERROR " in x]
    assert len(logged) == 1
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ERROR bridge.crawl.run: yyedu: ", logged[0]
    )


def test_a_traceback_goes_into_exc(tmp_path):
    """A logged exception, as internal_error logs its traceback at DEBUG: one JSON line."""
    script = textwrap.dedent("""
        import logging
        from bridge.logs import internal_error, setup_logging
        setup_logging("DEBUG", "json")
        try:
            {}["missing"]
        except KeyError as exc:
            internal_error(logging.getLogger("bridge.test"), "reading %s", exc, "page 3")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)  # fmt: skip
    first, second = (json.loads(line) for line in proc.stderr.splitlines())
    assert (first["level"], first["message"]) == (
        "ERROR",
        "reading page 3: KeyError: 'missing' (please report it; the traceback is logged at DEBUG)",
    )
    assert "exc" not in first
    assert second["level"] == "DEBUG"
    assert second["exc"].startswith("Traceback (most recent call last):")
    assert second["exc"].endswith("KeyError: 'missing'")


def test_a_poll_still_running_at_its_next_turn_is_no_warning():
    """APScheduler warns "maximum number of running instances reached" whenever a job is
    still running at its next fire (a drain during a backfill): normal work, not logged."""
    # The job runs until the scheduler has come to its next turn and found it running
    # (APScheduler's own event says so): no guessed durations.
    script = textwrap.dedent("""
        import threading
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES
        from apscheduler.schedulers.background import BackgroundScheduler
        from bridge.logs import setup_logging
        setup_logging("INFO")
        skipped = threading.Event()
        scheduler = BackgroundScheduler()
        scheduler.add_listener(lambda _e: skipped.set(), EVENT_JOB_MAX_INSTANCES)
        scheduler.add_job(lambda: skipped.wait(30), "interval", seconds=0.2, max_instances=1)
        scheduler.start()
        print("skipped" if skipped.wait(30) else "never skipped", flush=True)
        scheduler.shutdown(wait=True)
        import logging
        logging.getLogger("apscheduler.scheduler").warning("another warning stays")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)  # fmt: skip
    assert proc.stdout == "skipped\n", proc.stderr  # the situation did arise
    assert "maximum number of running instances" not in proc.stderr
    assert proc.stderr.count("WARNING apscheduler.scheduler: another warning stays") == 1
