"""Every tunable default in one place, each with the reason for its value.

The config file overrides these; ``config/bridge.example.toml`` documents the same keys.
"""

from __future__ import annotations

# --- State store -----------------------------------------------------------------------
STATE_URL = "sqlite:///state/bridge.db"  # relative to the working directory
SQLITE_BUSY_TIMEOUT_MS = 30_000  # a CLI command may wait this long for the daemon's write
CONFIG_PATH = "config/bridge.toml"
# "text" reads best in a terminal and in journalctl; "json" (one object per line) is for a
# log shipper (Loki, ELK) that would otherwise have to parse the text
LOG_FORMAT = "text"

# --- Fetching (politeness towards the bureau site) ---------------------------------------
USER_AGENT = "bridge/{version} (+government information disclosure sync; operator: {operator})"
RATE_LIMIT = 2.0  # requests per second per host: a government web server is small
CONCURRENCY = 2  # requests in flight per host
CONNECT_TIMEOUT = 5.0  # seconds; a loopback or intranet host answers in milliseconds
READ_TIMEOUT = 30.0  # seconds; old CMS servers render slowly under load
MAX_PAGE_BYTES = 5 * 1024 * 1024  # an HTML page larger than this is not a CMS page
MAX_LIST_PAGES = 2000  # list pages of one column read in one cycle, at most: 40,000 items
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024  # scanned PDFs of long plans reach tens of MB
MAX_ATTACHMENTS = 50  # of one item: real articles carry a handful, a hostile page thousands
MAX_ITEM_BYTES = 200 * 1024 * 1024  # all attachments of one item together
# seconds one request may take in all (connect, redirects, the whole body), whatever the
# pace of its reads: a server dripping a byte before each read timeout is cut off here
FETCH_DEADLINE = 120.0
MAX_REDIRECTS = 5  # and RFC 9309 lets a robots.txt behind more be taken as unavailable
ROBOTS_MAX_BYTES = 512 * 1024  # of robots.txt parsed, the rest ignored (RFC 9309: 500 KiB at least)
# A body trickling in slower than this (bytes a second on average, after one read timeout's
# grace) is given up: the read timeout bounds each read, not the whole body.
MIN_BODY_RATE = 1024
RESPECT_ROBOTS = True
# Detail pages go to the fetch threads only when a page keeps the run waiting on the site
# for more than this share of the CPU it costs (bridge/crawl/pace.py: on a near server the
# threads only contend for the interpreter lock). Measured over PACE_PROBE_PAGES pages
# fetched one at a time, or fewer once the waiting so far is beyond doubt
# (PACE_SURE_WAIT_SHARE: a distant server makes a page wait several times its CPU, so the
# first page decides; each page fetched alone there keeps all but one of the requests the
# host allows out of flight). While threads win, checked again after PACE_RECHECK_AFTER
# pages, then twice as many each time, PACE_RECHECK_MAX at most: a check of a slow server
# is one page alone, and a near server wrongly judged slow (one page held up) runs
# PACE_RECHECK_AFTER pages on threads before the check corrects it. The figures behind
# these values: bench/README.md, "Figures behind choices in the code".
PACE_WAIT_SHARE = 0.5
PACE_SURE_WAIT_SHARE = 4.0
PACE_PROBE_PAGES = 4
PACE_RECHECK_AFTER = 1000
PACE_RECHECK_MAX = 16000
# Once pages go one at a time, one page in PACE_SAMPLE_EVERY is timed: timing a page reads
# the thread's counters in /proc twice, which on a near server is a visible share of what
# the page costs, while a server that slows down is still found within this many pages (its
# first timed page leaves no doubt) — a few pages late, against thousands of reads saved.
PACE_SAMPLE_EVERY = 8
OVERLAP_PAGES = 1  # newest list pages re-read every cycle, whatever the cursor says
FULL_LISTING_INTERVAL = (
    86400.0  # seconds; a daily complete listing finds withdrawals and deep edits
)
# Detail pages revalidated with conditional GET (bridge/crawl/revalidate.py), so a body-only
# correction (更正) reaches the portal without a resync: items published within
# REVALIDATE_RECENT every cycle (new documents are the ones corrected), every other active
# item once within REVALIDATE_ALL, spread over the cycles of that period. Seconds; 0: off.
REVALIDATE_RECENT = 30 * 86400.0
REVALIDATE_ALL = 7 * 86400.0
SITE_CHARSET = "utf-8"  # used only when header, BOM and <meta> say nothing

# --- Schedule ----------------------------------------------------------------------------
SOURCE_INTERVAL = 600.0  # seconds between polls of one source: minutes, not weeks
SCHEDULE_JITTER = 30.0  # seconds; spreads polls of many sources over time

# --- Daemon ------------------------------------------------------------------------------
DRAIN_INTERVAL = 10.0  # seconds between outbox drains: new records reach the portal quickly
RESYNC_POLL = 2.0  # seconds; a queued `bridge resync` is taken well within 5 s
SHUTDOWN_TIMEOUT = 45.0  # seconds to finish the item in hand on SIGTERM (> one portal timeout)
MISFIRE_GRACE_TIME = 300.0  # a poll late by less than this still runs; later ones are audited
HEALTH_INTERVALS = 3  # unhealthy after this many poll intervals without a successful run
# [status] max_lag: seconds without a successful run before a source needs attention
# (`bridge status` exits 1, /healthz is 503). None: HEALTH_INTERVALS poll intervals of
# each source, so a source polled hourly and one polled every minute both get three polls.
STATUS_MAX_LAG: float | None = None
HOUSEKEEPING_INTERVAL = 3600.0  # seconds between housekeeping runs (cache pruning, checks)
PARALLEL_SOURCES = 2  # sources one daemon crawls at once: parsing is CPU-bound, the GIL is one
WORKER_LEASE = 30.0  # seconds a source claim lasts unless renewed (heartbeats renew it every 5 s)
ADMIN_HOST = "127.0.0.1"  # the admin pages and metrics stay on this machine unless asked
ADMIN_PORT = 8803
# A token guessed at a network's pace must not fall in a lifetime: 24 characters of a
# random token (secrets.token_urlsafe(18)) are 144 bits.
ADMIN_TOKEN_MIN_CHARS = 24

# --- Withdrawals -------------------------------------------------------------------------
WITHDRAWALS_ENABLED = False  # deleting from a legal catalog is the operator's decision
MAX_WITHDRAW_SHARE = 0.10  # more than this share of a column gone at once smells of a bug

# --- Delivery ----------------------------------------------------------------------------
TARGET_TIMEOUT = 30.0  # seconds per portal request
MAX_ATTEMPTS = 8  # a delivery is dead-lettered after this many failed attempts
BACKOFF_INITIAL = 2.0  # seconds before the first retry, doubled each time, with jitter
BACKOFF_MAX = 600.0  # seconds; never wait longer than this between two attempts
RETRY_AFTER_CAP = 900.0  # seconds; a portal asking for longer is waited on this long only
LEASE_SECONDS = 120.0  # an in-flight delivery whose worker vanished is retaken after this
DRAIN_BATCH = 50  # deliveries claimed at a time (shared out among the senders)
DELIVERY_CONCURRENCY = 2  # requests in flight to the portal: overlaps its latency, stays polite
# "auto": from a second process for a resync or a source's first backfill, on a machine
# with a core to spare: thousands of items then use two cores, 1.5 to 1.8 times as fast
# (bench/README.md). From a thread on a poll: a child costs about half a second to start
# and its own memory, which a poll that finds two new items never earns back. true /
# false: always / never. (bridge.crawl.run.delivery_process)
DELIVERY_PROCESS = "auto"
CIRCUIT_THRESHOLD = 5  # consecutive failures that open the circuit
CIRCUIT_COOLDOWN = 60.0  # seconds before a single probe request is let through
INDEX_NO_MINTING = "portal"  # the portal mints 索引号 unless the bridge is told to
# A plain-http portal URL off loopback lets anyone on the way rename or retype an upload
# (X-File-Name, X-File-Sha256 and Content-Type are outside the signature): refused unless
# the operator says so.
ALLOW_INSECURE_HTTP = False

# --- Catalog -----------------------------------------------------------------------------
KEEP_OFFSITE_IMAGES = False  # an <img> from another host is a tracker or an intranet address
TOPIC = "科技、教育\\教育"

# --- Notifications -------------------------------------------------------------------------
NOTIFY_REPEAT = 6 * 3600.0  # a reminder while an alarm lasts: twice a working day, not a flood
NOTIFY_TIMEOUT = 10.0  # seconds per notification request: a robot or SMTP relay answers fast
NOTIFY_ATTEMPTS = 3  # tries of one notification in one pass (first + 2 retries)
NOTIFY_RETRY_WAIT = 1.0  # seconds before a retry, doubled once: a pass stays short
# An opening notice no channel accepted is offered again after this long (not every pass)
NOTIFY_RETRY_UNSENT = 300.0
