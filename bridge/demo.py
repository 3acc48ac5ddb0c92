"""``bridge demo``: the sandbox site, the sandbox portal and the real sync loop, end to end.

Everything runs on free loopback ports inside this process; the state, the portal's
catalog and the audit trail stay in the demo folder afterwards for inspection.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bridge import audit, config
from bridge.audit import verify_chain
from bridge.context import Context
from bridge.crawl.run import RunSummary, run_once
from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET, PortalServer
from bridge.sandbox.site import SiteServer, edit, generate_site, load_manifest, publish
from bridge.state import audit_log
from bridge.state.db import open_database
from bridge.targets import make_target

CONFIG_TEMPLATE = """\
# Written by `bridge demo` for its own sandbox site and portal.
[bridge]
state_url = "sqlite:///{state}"
operator = "bridge demo"

[fetch]
rate_limit = 500.0
concurrency = 4

[[sources]]
name = "yyedu"
kind = "trs"
base_url = "{site}"
publisher = "余姚市教育局"
org_code = "002949236"
withdrawals = true
{columns}
[target]
kind = "http"
url = "{portal}"
key = "{key}"
secret_file = "{secret_file}"

[delivery]
backoff_initial = "0.2s"
backoff_max = "2s"
"""


@dataclass(frozen=True)
class CycleReport:
    label: str
    summary: RunSummary
    seconds: float


def write_config(folder: Path, site_url: str, portal_url: str) -> Path:
    from bridge.sandbox.site import COLUMNS

    secret_file = folder / "portal.secret"
    secret_file.write_text(SANDBOX_SECRET + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    columns = "".join(
        f'\n  [[sources.columns]]\n  key = "{key}"\n  path = "{path.strip("/")}/"\n  category = "{name}"\n'
        for key, path, name in COLUMNS
    )
    path = folder / "bridge.toml"
    path.write_text(
        CONFIG_TEMPLATE.format(
            state=(folder / "bridge.db").resolve(),
            site=site_url,
            portal=portal_url,
            key=SANDBOX_KEY,
            secret_file=secret_file.resolve(),
            columns=columns,
        ),
        encoding="utf-8",
    )
    return path


def run_demo(
    folder: Path,
    *,
    items: int = 60,
    seed: int = 1,
    say: Callable[[str], None] = print,
    keep_serving: bool = False,
    prog: str = "xxgk-bridge",
) -> int:
    """Run the demo; returns the exit code (0 when every item arrived and the trail verifies).

    ``prog`` is how the commands it suggests run the bridge (the CLI passes the way it was
    itself run, so they work without the virtualenv on ``PATH``)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    generate_site(folder / "site", items=items, seed=seed)
    site = SiteServer(folder / "site")
    portal = PortalServer(folder / "portal.db")
    site_url, portal_url = site.start(), portal.start()
    say(f"sandbox site   {site_url}  ({items} items of 余姚市教育局, TRS style)")
    say(f"sandbox portal {portal_url}  (Portal API v1 and the public catalog)")
    try:
        settings = config.load(write_config(folder, site_url, portal_url))
        db = open_database(settings.state_url.reveal())
        ctx = Context(settings=settings, db=db, target=make_target(settings.target), actor="demo")
        with db.write() as s:
            audit_log.append(
                s, audit.CONFIG_LOADED, actor="demo", details={"file": str(settings.path)}
            )
        reports = [_cycle(ctx, "cycle 1: first sync of the whole site", say)]

        new = publish(folder / "site", 3)
        say(f"the bureau publishes {len(new)} new items: " + "、".join(i.title for i in new))
        reports.append(_cycle(ctx, "cycle 2: after publishing", say))

        changed = next(i for i in load_manifest(folder / "site").items if not i.withdrawn)
        edit(
            folder / "site",
            changed.id,
            title=changed.title.replace("通知", "补充通知", 1)
            if "通知" in changed.title
            else changed.title + "（修订）",
        )
        say(f"an editor changes the title of {changed.id}")
        reports.append(_cycle(ctx, "cycle 3: after an edit", say))
        reports.append(_cycle(ctx, "cycle 4: nothing changed", say))

        with db.read() as s:
            verdict = verify_chain(audit_log.iter_chain(s), head=audit_log.head(s))
        held = portal.store.count()
        expected = items + len(new)
        say("")
        say(f"portal holds {held} items (site has {expected}); audit trail: {verdict.message}")
        say(f"state, audit trail and config are in {folder}/ — for example:")
        say(f"  {prog} --config {folder}/bridge.toml status")
        say(f"  {prog} --config {folder}/bridge.toml audit --limit 20")
        ok = held == expected and verdict.ok and all(r.summary.exit_code == 0 for r in reports)
        if not keep_serving:
            # The servers stop when this returns: a URL printed now would lead nowhere.
            say(
                "the sandbox site and portal stop with the demo; to browse the portal as a "
                f"citizen would, run `{prog} demo --keep-serving`"
            )
        else:

            def announce() -> None:
                say(f"see them as a citizen would: {portal_url}")
                say("serving the sandbox site and portal until Ctrl-C")

            _wait_for_stop(announce)
        db.dispose()
        return 0 if ok else 1
    finally:
        site.stop()
        portal.stop()


def _wait_for_stop(announce: Callable[[], None]) -> None:
    """``announce``, then wait until SIGINT (Ctrl-C) or SIGTERM. Handlers of its own: a
    process started in the background by a shell, or by a test runner's worker, inherits
    SIGINT ignored, and Python then raises no KeyboardInterrupt (the demo served on for
    ever). They are in place before the announcement: a Ctrl-C sent as soon as it is read
    stops the demo."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOPS}
    try:
        announce()
        while not stop.wait(3600):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_STOPS = (signal.SIGINT, signal.SIGTERM)


def _cycle(ctx: Context, label: str, say: Callable[[str], None]) -> CycleReport:
    started = time.monotonic()
    summary = run_once(ctx)
    seconds = time.monotonic() - started
    s = summary.sources[0].stats
    d = summary.delivery
    pushed = (d.created + d.updated) if d else 0
    say(
        f"{label}: {s.fetched} page(s) read, {s.new} new, {s.changed} changed, "
        f"{pushed} pushed to the portal in {seconds:.1f} s"
    )
    return CycleReport(label, summary, seconds)
