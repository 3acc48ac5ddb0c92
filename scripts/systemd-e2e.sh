#!/usr/bin/env bash
# Boot a real systemd (Debian bookworm, systemd-nspawn) with config/bridge.service installed
# unchanged, the sandbox site and portal as two more units, and a driver unit that checks
# what an operator relies on: READY=1, STATUS=, /healthz, the credential, the state
# directory, reload, the operator CLI under the same dynamic user, a watchdog restart of a
# hung daemon, and a clean stop (exit 0). The container has a network of its own (loopback
# only), so nothing leaves it. Prints the driver's log; exits 0 when every check passed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKDIR="/var/tmp/bridge-systemd-e2e"
WHEELHOUSE="$HERE/build/wheels"
FRESH=0
BOOT_TIMEOUT=600

usage() {
    cat <<USAGE
Usage: scripts/systemd-e2e.sh [--workdir DIR] [--wheelhouse DIR] [--fresh]

Boot Debian bookworm under systemd-nspawn with config/bridge.service and check the unit
end to end (notify, watchdog restart, reload, credentials, clean stop). Needs root,
debootstrap and systemd-nspawn (apt-get install debootstrap systemd-container).

  --workdir DIR     where the root file system lives (default: ${WORKDIR}); kept between
                    runs, so only the first run debootstraps
  --wheelhouse DIR  wheels to install the bridge from, with no index (default:
                    build/wheels; fill it with scripts/build-offline.sh --download-only)
  --fresh           debootstrap the root file system again
  -h, --help        this text

Example:
  scripts/build-offline.sh --download-only && sudo scripts/systemd-e2e.sh
USAGE
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --workdir) WORKDIR="${2:?--workdir needs a value}"; shift 2 ;;
        --wheelhouse) WHEELHOUSE="${2:?--wheelhouse needs a value}"; shift 2 ;;
        --fresh) FRESH=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "systemd-e2e: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "systemd-e2e: $*" >&2; exit 1; }
say() { echo "systemd-e2e: $*" >&2; }

[[ "$(id -u)" -eq 0 ]] || die "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap systemd-nspawn; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
compgen -G "$WHEELHOUSE/*.whl" >/dev/null \
    || die "no wheels in $WHEELHOUSE: run scripts/build-offline.sh --download-only"
WHEELHOUSE="$(realpath "$WHEELHOUSE")"

ROOT="$WORKDIR/rootfs"
mkdir -p "$WORKDIR"
exec 9>"$WORKDIR/.lock"
flock --nonblock 9 || die "another run is using $WORKDIR"
nspawn() {
    systemd-nspawn --quiet --register=no --keep-unit --directory="$ROOT" "$@" \
        2> >(grep -v 'Attempted to remove disk file system' >&2)
}

# --- 1. a bookworm root file system with systemd and python3 ---------------------------
# procps: /bin/kill for ExecReload=, as on any standard Debian install.
PACKAGES="systemd,systemd-sysv,dbus,procps,python3,python3-venv,ca-certificates,tzdata"
MARKER="$ROOT/.bridge-e2e-base"
if [[ "$FRESH" -eq 1 || "$(cat "$MARKER" 2>/dev/null)" != "$PACKAGES" ]]; then
    rm -rf "$ROOT"
    say "debootstrap bookworm into $ROOT"
    debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT" \
        >"$WORKDIR/debootstrap.log" 2>&1 \
        || die "debootstrap failed: see $WORKDIR/debootstrap.log"
    echo "$PACKAGES" >"$MARKER"
fi

# --- 2. the bridge in /opt/bridge, from the wheelhouse, as the unit expects ----------------
say "installing the bridge into $ROOT/opt/bridge (pip --no-index)"
rm -rf "$ROOT/opt/bridge" "$ROOT/root/src"
mkdir -p "$ROOT/root/src"
tar -C "$HERE" --exclude=__pycache__ -c pyproject.toml README.md bridge | tar -C "$ROOT/root/src" -x
nspawn --bind-ro="$WHEELHOUSE:/wheels" /bin/sh -c \
    'python3 -m venv /opt/bridge && PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 /opt/bridge/bin/pip install -q --no-index --find-links /wheels /root/src && rm -rf /root/src' \
    || die "installing the bridge failed"

# --- 3. units, config, secret, driver ------------------------------------------------------
UNITS="$ROOT/etc/systemd/system"
install -m 0644 "$HERE/config/bridge.service" "$UNITS/bridge.service"
mkdir -p "$UNITS/bridge.service.d" "$ROOT/etc/bridge"
# Only what makes the test quick: a watchdog restart within seconds instead of a minute.
cat >"$UNITS/bridge.service.d/e2e.conf" <<'EOF'
[Service]
WatchdogSec=10s
RestartSec=2s
LimitCORE=0
EOF
# The sandbox config, with the state in the StateDirectory (the default relative URL) and
# the secret taken out of the file: it comes as the credential target_secret.
grep -v -E '^(state_url|secret) *=' "$HERE/config/sandbox.toml" >"$ROOT/etc/bridge/bridge.toml"
secret="$(sed -n 's/^secret *= *"\(.*\)"$/\1/p' "$HERE/config/sandbox.toml")"
[[ -n "$secret" ]] || die "no sandbox secret in config/sandbox.toml"
install -m 0600 /dev/null "$ROOT/etc/bridge/portal.secret"
printf '%s' "$secret" >"$ROOT/etc/bridge/portal.secret"

for peer in site portal; do
    if [[ "$peer" == site ]]; then
        args="site --root /var/lib/sandbox/site --port 8801"
    else
        args="portal --db /var/lib/sandbox/portal.db --port 8802"
    fi
    cat >"$UNITS/sandbox-$peer.service" <<EOF
[Unit]
Description=bridge sandbox $peer
[Service]
ExecStart=/opt/bridge/bin/xxgk-bridge sandbox $args
StateDirectory=sandbox
EOF
done

cat >"$UNITS/bridge-e2e.service" <<'EOF'
[Unit]
Description=bridge end-to-end checks under systemd
Wants=sandbox-site.service sandbox-portal.service
After=multi-user.target sandbox-site.service sandbox-portal.service
[Service]
Type=oneshot
TimeoutStartSec=10min
ExecStart=/usr/local/sbin/bridge-e2e
ExecStopPost=/bin/systemctl poweroff --no-block
StandardOutput=journal+console
StandardError=journal+console
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/bridge-e2e.service "$UNITS/multi-user.target.wants/bridge-e2e.service"
rm -f "$UNITS/multi-user.target.wants/probe.service"

install -m 0755 /dev/stdin "$ROOT/usr/local/sbin/bridge-e2e" <<'EOF'
#!/bin/bash
# Runs inside the booted container; every line also lands in /var/log/bridge-e2e.log.
set -uo pipefail
exec > >(tee /var/log/bridge-e2e.log) 2>&1
failed=0
check() {
    local what="$1"; shift
    if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; failed=1; fi
}
prop() { systemctl show -P "$1" bridge.service; }
within() {  # SECONDS COMMAND...: true once COMMAND succeeds within SECONDS
    local n="$1"; shift
    for ((i = 0; i < n * 2; i++)); do "$@" && return 0; sleep 0.5; done
    return 1
}
http_ok() { python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)" "$1" 2>/dev/null; }
running() { [[ "$(prop ActiveState)/$(prop SubState)" == active/running ]]; }
journal_has() { journalctl -q -u bridge.service --no-pager | grep -q -- "$1"; }
as_operator() {  # the operator CLI, as the daemon's dynamic user with the same credential
    systemd-run --quiet --wait --pipe --collect -p DynamicUser=yes -p User=bridge \
        -p StateDirectory=bridge -p WorkingDirectory=/var/lib/bridge \
        -p LoadCredential=target_secret:/etc/bridge/portal.secret \
        /opt/bridge/bin/xxgk-bridge --config /etc/bridge/bridge.toml "$@"
}

echo "== $(systemctl --version | head -1)"
echo "== systemd-analyze verify bridge.service"
verify="$(systemd-analyze verify /etc/systemd/system/bridge.service 2>&1)"
check "verify prints nothing" test -z "$verify"
[[ -z "$verify" ]] || echo "$verify"
systemd-analyze security bridge.service --no-pager | tail -1

check "sandbox site and portal answer" within 30 bash -c \
    "$(declare -f http_ok); http_ok http://127.0.0.1:8801/robots.txt && http_ok http://127.0.0.1:8802/"

echo "== systemctl start bridge (returns once READY=1 arrives)"
t0=$(date +%s.%N)
systemctl start bridge.service
echo "started in $(python3 -c "print(round($(date +%s.%N) - $t0, 2))") s"
check "active (running) after READY=1" running
pid="$(prop MainPID)"
echo "MainPID=$pid WatchdogUSec=$(prop WatchdogUSec) NotifyAccess=$(prop NotifyAccess)"
uid="$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")"
check "runs as a dynamic, unprivileged user (uid $uid)" test "$uid" -ge 61184
check "the secret came as a credential" test -s /run/credentials/bridge.service/target_secret
check "/healthz answers 200" within 10 http_ok http://127.0.0.1:8803/healthz
check "STATUS= reports a finished run" within 90 bash -c \
    "systemctl show -P StatusText bridge.service | grep -q 'last run'"
echo "StatusText=$(prop StatusText)"
check "the state database is in the StateDirectory" test -f /var/lib/bridge/state/bridge.db
ls -l /var/lib/bridge/state/

echo "== the operator CLI, as the same dynamic user"
as_operator status | tail -n 4
check "bridge status works beside the daemon" as_operator status --format json
check "bridge resync --wait is taken by the daemon" as_operator resync --wait --reason "systemd e2e"

echo "== systemctl reload bridge (SIGHUP)"
systemctl reload bridge.service
check "config reloaded, same process" within 10 journal_has "config reloaded"
check "still the same MainPID" test "$(prop MainPID)" = "$pid"

echo "== a hung daemon (SIGSTOP): the watchdog pings stop and systemd restarts it"
kill -STOP "$pid"
check "restarted by the watchdog" within 60 bash -c \
    "[[ \$(systemctl show -P NRestarts bridge.service) -ge 1 ]] && [[ \$(systemctl show -P SubState bridge.service) == running ]]"
journalctl -q -u bridge.service --no-pager | grep -E "Watchdog timeout|Main process exited|Scheduled restart" | sed 's/^/  /'
check "a new main process" test "$(prop MainPID)" != "$pid"
check "healthy again" within 20 http_ok http://127.0.0.1:8803/healthz

echo "== systemctl stop bridge (SIGTERM)"
t0=$(date +%s.%N)
systemctl stop bridge.service
echo "stopped in $(python3 -c "print(round($(date +%s.%N) - $t0, 2))") s"
echo "Result=$(prop Result) ExecMainCode=$(prop ExecMainCode) ExecMainStatus=$(prop ExecMainStatus)"
check "clean stop: Result=success, exit status 0" \
    test "$(prop Result)/$(prop ExecMainStatus)" = "success/0"
journalctl -q -u bridge.service --no-pager | tail -n 3 | sed 's/^/  /'

if [[ "$failed" -eq 0 ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
sleep 1  # let tee write the last lines before the poweroff
EOF

# --- 4. boot ---------------------------------------------------------------------------
rm -f "$ROOT/var/log/bridge-e2e.log"
say "booting the container (private network: loopback only)"
timeout --kill-after=30 "$BOOT_TIMEOUT" systemd-nspawn --quiet --register=no --keep-unit --directory="$ROOT" \
    --private-network --boot >"$WORKDIR/boot.log" 2>&1 \
    || say "nspawn exited with $? (see $WORKDIR/boot.log)"

[[ -f "$ROOT/var/log/bridge-e2e.log" ]] || die "the driver left no log: see $WORKDIR/boot.log"
cat "$ROOT/var/log/bridge-e2e.log"
grep -q '^RESULT: PASS$' "$ROOT/var/log/bridge-e2e.log"
