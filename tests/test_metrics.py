"""`/metrics` of a real `bridge run` after a sync with the sandbox site and portal.

Exact counts for a small sandbox: what the daemon's poll did, what a dry run did not
do, and what a resync delivered from a delivery process of its own.
"""

from __future__ import annotations

import platform

import pytest
import requests
from conftest import config_text
from prometheus_client.parser import text_string_to_metric_families
from test_daemon import Daemon, free_port

from bridge import __version__
from bridge.sandbox.site import load_manifest, publish
from bridge.sandbox.site_model import bureau_now

pytestmark = pytest.mark.slow


def scrape(d: Daemon) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) → value."""
    text = requests.get(d.admin + "metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def metered(sandbox, tmp_path, state_url):
    box = sandbox(items=12, seed=5)
    port = free_port()
    # One poll only (the source's interval is long) and no drain job after the first
    # second: every delivery after the poll's is the resync's, from its own process.
    extra = (
        'process = true\n\n[daemon]\ndrain_interval = "1h"\nresync_poll = "1s"\n\n'
        f"[admin]\nport = {port}\n"
    )
    config = tmp_path / "bridge.toml"
    config.write_text(
        config_text(state_url, box.site_url, box.portal_url, extra=extra,
                    extra_source='interval = "1h"'),
        encoding="utf-8",
    )  # fmt: skip
    d = Daemon(config, port)
    yield box, config, d
    if d.proc.poll() is None:
        d.proc.kill()
        d.proc.communicate()


def test_metrics_count_exactly_what_was_done(metered, cli):
    box, config, d = metered
    d.wait_for(lambda: box.portal.store.count() == 12, what="12 items on the portal")
    d.wait_for(
        lambda: (
            value(scrape(d), "bridge_deliveries_total", target="portal", outcome="created") == 12
        ),
        what="12 deliveries counted",
    )
    first = scrape(d)
    assert [name for name, _ in first if name.endswith("_created")] == []
    assert value(first, "bridge_items_total", source="yyedu", outcome="new") == 12
    assert value(first, "bridge_runs_total", source="yyedu", outcome="ok") == 1
    assert value(first, "bridge_build_info", version=__version__,
                 python=platform.python_version()) == 1  # fmt: skip
    assert value(first, "bridge_delivery_duration_seconds_count", target="portal") == 12
    # a first backfill is 存量 (baseline), counted and never measured as 归集时效, except
    # what the site published on the day the bridge first read it (Beijing time)
    today = bureau_now().date()
    old = sum(i.published.date() < today for i in load_manifest(box.root).items)
    assert old >= 10
    assert value(first, "bridge_baseline_items", source="yyedu") == old
    assert value(first, "bridge_collection_seconds_count", source="yyedu") == 12 - old
    names = {name for name, _ in first}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info",
            "bridge_queue_depth", "bridge_lag_seconds"} <= names  # fmt: skip
    buckets = {dict(labels)["le"] for name, labels in first
               if name == "bridge_collection_seconds_bucket"}  # fmt: skip
    assert {"3600", "86400", "604800", "+Inf"} <= buckets

    publish(box.root, 3)
    plan = cli("--config", str(config), "resync", "--dry-run", "--wait")
    assert plan.code == 0, plan.both
    assert "3 new" in plan.out
    after_plan = scrape(d)  # a dry run did nothing, so it counts nothing
    for name in ("bridge_items_total", "bridge_runs_total", "bridge_deliveries_total"):
        assert {k: v for k, v in after_plan.items() if k[0] == name} == {
            k: v for k, v in first.items() if k[0] == name
        }


def test_delivery_process_counts_reach_the_daemon(metered, cli):
    box, config, d = metered
    d.wait_for(lambda: box.portal.store.count() == 12, what="12 items on the portal")
    publish(box.root, 3)
    done = cli("--config", str(config), "resync", "--wait")
    assert done.code == 0, done.both
    assert box.portal.store.count() == 15
    samples = scrape(d)
    assert value(samples, "bridge_deliveries_total", target="portal", outcome="created") == 15
    assert value(samples, "bridge_items_total", source="yyedu", outcome="new") == 15
    assert value(samples, "bridge_items_total", source="yyedu", outcome="unchanged") == 12
    assert value(samples, "bridge_runs_total", source="yyedu", outcome="ok") == 2
    assert value(samples, "bridge_delivery_duration_seconds_count", target="portal") == 15
    # the three published today are measured (with any of the 12 the site published
    # today), the rest are 存量; all that are measured reached the portal within a day
    today = bureau_now().date()
    old = sum(i.published.date() < today for i in load_manifest(box.root).items)
    assert value(samples, "bridge_baseline_items", source="yyedu") == old
    assert value(samples, "bridge_collection_seconds_count", source="yyedu") == 15 - old
    assert value(samples, "bridge_collection_seconds_bucket", source="yyedu", le="86400") == (
        15 - old
    )
    _, err = d.stop()
    assert "delivering from process" in err  # the resync's deliveries left from a child
