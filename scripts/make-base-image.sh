#!/usr/bin/env bash
# Make a Debian bookworm base image with python3 and python3-venv, without any registry:
# debootstrap a minimal root file system from a Debian mirror, trim it, `docker import` it.
#
# The image it makes (bridge-base:bookworm by default) is the BASE_IMAGE of an offline
# build (scripts/build-offline.sh). Make it once on a machine that reaches a Debian mirror
# (or an internal one: --mirror / DEBIAN_MIRROR), then carry it to the intranet with
#   docker save bridge-base:bookworm | gzip > bridge-base.tar.gz   # here
#   docker load < bridge-base.tar.gz                                # there
#
# Architecture: the host's by default; --arch arm64 (or ARCH=arm64) makes an image for
# Kunpeng / Phytium servers. On an arm64 host that needs nothing more; on an x86-64 host
# the arm64 binaries run under emulation (apt-get install qemu-user-static).
set -euo pipefail

TAG=""                        # default: bridge-base:bookworm, or bridge-base:bookworm-ARCH
SUITE="bookworm"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ARCH="${ARCH:-}"              # Debian's name (amd64, arm64); empty: the host's
WORKDIR=""
FORCE=0
PACKAGES="python3,python3-venv,ca-certificates,tzdata"

usage() {
    cat <<USAGE
Usage: scripts/make-base-image.sh [--tag NAME:TAG] [--mirror URL] [--arch ARCH] [--workdir DIR] [--force]

Make a minimal Debian ${SUITE} image with ${PACKAGES//,/ }
(debootstrap + docker import), for building the bridge image with no registry.
Needs root, debootstrap and a running Docker engine.

  --tag NAME:TAG   image to create (default: bridge-base:${SUITE}, or
                   bridge-base:${SUITE}-ARCH for another architecture than the host's)
  --mirror URL     Debian mirror (default: \$DEBIAN_MIRROR, else ${MIRROR}),
                   for example an internal one or https://mirrors.tuna.tsinghua.edu.cn/debian
  --arch ARCH      Debian architecture: amd64, arm64 (default: \$ARCH, else the host's).
                   Another than the host's needs qemu-user-static (binfmt) to run its
                   binaries; on an arm64 host (Kunpeng, Phytium) run it natively.
  --workdir DIR    where to build the root file system (default: a temporary folder,
                   removed afterwards)
  --force          make the image again even if the tag exists
  -h, --help       this text

Idempotent: when the tag exists already, prints its id and does nothing else.

Example:
  sudo scripts/make-base-image.sh && docker run --rm --network none bridge-base:${SUITE} python3 --version
  sudo DEBIAN_MIRROR=http://mirrors.example.gov.cn/debian scripts/make-base-image.sh --arch arm64
USAGE
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --tag) TAG="${2:?--tag needs a value}"; shift 2 ;;
        --mirror) MIRROR="${2:?--mirror needs a value}"; shift 2 ;;
        --arch) ARCH="${2:?--arch needs a value}"; shift 2 ;;
        --workdir) WORKDIR="${2:?--workdir needs a value}"; shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "make-base-image: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "make-base-image: $*" >&2; exit 1; }

# Debian's architecture names; the kernel's (uname -m) are accepted too.
debian_arch() {
    case "$1" in
        x86_64|amd64) echo amd64 ;;
        aarch64|arm64) echo arm64 ;;
        *) echo "$1" ;;
    esac
}
HOST_ARCH="$(debian_arch "$(uname -m)")"
ARCH="$(debian_arch "${ARCH:-$HOST_ARCH}")"
case "$ARCH" in
    amd64|arm64) ;;
    *) echo "make-base-image: unsupported --arch $ARCH (amd64 or arm64)" >&2; exit 2 ;;
esac
if [[ -z "$TAG" ]]; then
    TAG="bridge-base:$SUITE"
    [[ "$ARCH" == "$HOST_ARCH" ]] || TAG="bridge-base:$SUITE-$ARCH"
fi

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "the Docker engine is not running (or not reachable as $(id -un))"

if [[ "$FORCE" -eq 0 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "make-base-image: $TAG exists already (use --force to make it again)" >&2
    docker image inspect -f '{{.Id}}' "$TAG"
    exit 0
fi

[[ "$(id -u)" -eq 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
if [[ "$ARCH" != "$HOST_ARCH" ]]; then
    qemu="/proc/sys/fs/binfmt_misc/qemu-$([[ "$ARCH" == arm64 ]] && echo aarch64 || echo x86_64)"
    [[ -e "$qemu" ]] || die "an $ARCH image on this $HOST_ARCH host needs qemu-user-static (apt-get install qemu-user-static binfmt-support), or run this script on an $ARCH host"
fi

if [[ -z "$WORKDIR" ]]; then
    WORKDIR="$(mktemp -d /var/tmp/bridge-base.XXXXXX)"
    trap 'rm -rf "$WORKDIR"' EXIT
fi
ROOTFS="$WORKDIR/rootfs"
rm -rf "$ROOTFS"   # a half-made root file system from an interrupted run is not reused
mkdir -p "$ROOTFS"

echo "make-base-image: debootstrap $SUITE ($ARCH, from $MIRROR) into $ROOTFS" >&2
debootstrap --variant=minbase --arch="$ARCH" --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >&2

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
tar --numeric-owner -C "$ROOTFS" -c . | docker import --platform "linux/$ARCH" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase --arch=$ARCH --include=$PACKAGES $SUITE" \
    - "$TAG" >/dev/null
docker run --rm --network none --platform "linux/$ARCH" "$TAG" \
    python3 -c 'import ensurepip, ssl, sqlite3, venv' \
    || die "$TAG lacks python3's venv, ssl or sqlite3 modules"
docker image inspect -f '{{.Id}}' "$TAG"
