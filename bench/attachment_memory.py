"""Peak RSS of one item carrying many large attachments (issue 19, finding 4).

A sandbox site whose one article links 40 attachments of 5 MiB (random bytes), crawled
by ``bridge sync --once`` (delivering from a thread, to the sandbox portal) in a child
process, and by the source alone (``fetch_item`` of that article) in another. Peak RSS
is the child's ``ru_maxrss``. Not a test: a figure for the notes, run by hand::

    python -m bench.attachment_memory [--count 40] [--mib 5]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_FETCH_ONE = """
import resource, sys
from pathlib import Path
from bridge import config
from bridge.sources import make_source
from bridge.raw import ListEntry
settings = config.load(Path(sys.argv[1]))
source = make_source(settings.sources[0])
raw = source.fetch_item(ListEntry("tjsj", sys.argv[2], "big", "big"))
print(len(raw.attachments), sum(a.size for a in raw.attachments))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
source.close()
"""


def _site(root: Path, count: int, size: int) -> str:
    """Generate the site; give its first article with attachments ``count`` big ones."""
    from bridge.sandbox.site import generate_site, load_manifest

    generate_site(root, items=6, seed=7)
    item = next(i for i in load_manifest(root).items if i.column == "tjsj" and i.attachments)
    page = root / item.path.lstrip("/")
    links = "".join(f'<li><a href="./big{n}.pdf">big{n}.pdf</a></li>' for n in range(count))
    html = page.read_text(encoding="utf-8")
    html = re.sub(
        r'(<div class="attachments"><p>附件：</p><ul>).*?(</ul>)', rf"\g<1>{links}\2", html
    )
    page.write_text(html, encoding="utf-8")
    for n in range(count):
        (page.parent / f"big{n}.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(size - 9))
    return item.path


def _config(path: Path, state: Path, site_url: str, portal_url: str) -> None:
    from bridge.sandbox.portal import SANDBOX_KEY, SANDBOX_SECRET

    path.write_text(
        f"""
[bridge]
state_url = "sqlite:///{state}"
operator = "bench"
log_level = "WARNING"

[fetch]
rate_limit = 1000.0
concurrency = 4

[[sources]]
name = "yyedu"
kind = "trs"
base_url = "{site_url}"
publisher = "余姚市教育局"
org_code = "002949236"
  [[sources.columns]]
  key = "tjsj"
  path = "xxgk/tjsj/"
  category = "统计数据"

[target]
kind = "http"
url = "{portal_url}"
key = "{SANDBOX_KEY}"
secret = "{SANDBOX_SECRET}"

[delivery]
process = false
""",
        encoding="utf-8",
    )


def _child(args: list[str]) -> tuple[str, int]:
    """Run a child; its output and peak RSS in MiB (from wait4)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode() if proc.stdout else ""
    if os.environ.get("BENCH_DEBUG"):
        print(out)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(out)
    return out, usage.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--mib", type=int, default=5)
    a = parser.parse_args()
    from bridge.sandbox.portal import PortalServer
    from bridge.sandbox.site import SiteServer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        path = _site(root, a.count, a.mib << 20)
        site, portal = SiteServer(root), PortalServer(Path(tmp) / "portal.db")
        site_url, portal_url = site.start(), portal.start()
        try:
            config = Path(tmp) / "bridge.toml"
            _config(config, Path(tmp) / "state.db", site_url, portal_url)
            out, _ = _child([sys.executable, "-c", _FETCH_ONE, str(config), site_url + path[1:]])
            fetch_rss = int(out.split()[-1]) // 1024
            sync = [sys.executable, "-m", "bridge", "--config", str(config), "sync", "--once"]
            _, sync_rss = _child(sync)
            held = len(portal.store.items())
        finally:
            site.stop()
            portal.stop()
        db = (Path(tmp) / "state.db").stat().st_size >> 20
    print(f"| {a.count} attachments of {a.mib} MiB | peak RSS |")
    print("|---|---:|")
    print(f"| source.fetch_item alone | {fetch_rss} MiB |")
    print(f"| bridge sync --once (state {db} MiB, {held} records on the portal) | {sync_rss} MiB |")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB)")


if __name__ == "__main__":
    main()
