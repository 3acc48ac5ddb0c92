#!/usr/bin/env bash
# Make a Debian bookworm base image with python3 and python3-venv, without any registry:
# debootstrap a minimal root file system from a Debian mirror, trim it, `docker import` it.
#
# The image it makes (bridge-base:bookworm by default) is the BASE_IMAGE of an offline
# build (scripts/build-offline.sh). Make it once on a machine that reaches a Debian mirror
# (or an internal one: --mirror), then carry it to the intranet with
#   docker save bridge-base:bookworm | gzip > bridge-base.tar.gz   # here
#   docker load < bridge-base.tar.gz                                # there
set -euo pipefail

TAG="bridge-base:bookworm"
SUITE="bookworm"
MIRROR="${DEBIAN_MIRROR:-}"   # empty: debootstrap's default Debian mirror
WORKDIR=""
FORCE=0
PACKAGES="python3,python3-venv,ca-certificates,tzdata"

usage() {
    cat <<USAGE
Usage: scripts/make-base-image.sh [--tag NAME:TAG] [--mirror URL] [--workdir DIR] [--force]

Make a minimal Debian ${SUITE} image with ${PACKAGES//,/ }
(debootstrap + docker import), for building the bridge image with no registry.
Needs root, debootstrap and a running Docker engine.

  --tag NAME:TAG   image to create (default: ${TAG})
  --mirror URL     Debian mirror (default: \$DEBIAN_MIRROR, else debootstrap's default)
  --workdir DIR    where to build the root file system (default: a temporary folder,
                   removed afterwards)
  --force          make the image again even if ${TAG} exists
  -h, --help       this text

Idempotent: when the tag exists already, prints its id and does nothing else.

Example:
  sudo scripts/make-base-image.sh && docker run --rm --network none ${TAG} python3 --version
USAGE
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --tag) TAG="${2:?--tag needs a value}"; shift 2 ;;
        --mirror) MIRROR="${2:?--mirror needs a value}"; shift 2 ;;
        --workdir) WORKDIR="${2:?--workdir needs a value}"; shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "make-base-image: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "make-base-image: $*" >&2; exit 1; }

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "the Docker engine is not running (or not reachable as $(id -un))"

if [[ "$FORCE" -eq 0 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "make-base-image: $TAG exists already (use --force to make it again)" >&2
    docker image inspect -f '{{.Id}}' "$TAG"
    exit 0
fi

[[ "$(id -u)" -eq 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

if [[ -z "$WORKDIR" ]]; then
    WORKDIR="$(mktemp -d /var/tmp/bridge-base.XXXXXX)"
    trap 'rm -rf "$WORKDIR"' EXIT
fi
ROOTFS="$WORKDIR/rootfs"
rm -rf "$ROOTFS"   # a half-made root file system from an interrupted run is not reused
mkdir -p "$ROOTFS"

echo "make-base-image: debootstrap $SUITE into $ROOTFS" >&2
# shellcheck disable=SC2086  # $MIRROR is empty (default mirror) or one URL
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" $MIRROR >&2

echo "make-base-image: trimming" >&2
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* \
    "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*
find "$ROOTFS"/usr/lib/python3* -name __pycache__ -type d -prune -exec rm -rf {} +
# The container's resolver and host name are provided by Docker at run time.
: > "$ROOTFS/etc/resolv.conf"
: > "$ROOTFS/etc/hostname"

echo "make-base-image: docker import as $TAG" >&2
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase --include=$PACKAGES $SUITE" \
    - "$TAG" >/dev/null
docker run --rm --network none "$TAG" python3 -c 'import ensurepip, ssl, sqlite3, venv' \
    || die "$TAG lacks python3's venv, ssl or sqlite3 modules"
docker image inspect -f '{{.Id}}' "$TAG"
