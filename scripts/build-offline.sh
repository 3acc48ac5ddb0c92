#!/usr/bin/env bash
# Build the bridge image with no registry reachable: every Python package from a wheelhouse
# made beforehand, the base image from the local Docker engine (for example the one
# scripts/make-base-image.sh makes), and `docker build --network none`.
#
#   1. wheelhouse: build/wheels/ (or --wheelhouse DIR). When it holds no wheels yet, none
#      for the target architecture (or with --refresh), pip downloads them, for the base
#      image's Python, glibc and architecture, while a package index is reachable (pip's
#      own, or --index-url / PIP_INDEX_URL: a domestic or internal mirror); SHA256SUMS is
#      written beside them. A wheelhouse carried in from elsewhere is checked against it.
#   2. docker build --network none --build-arg BASE_IMAGE=... --build-arg WHEELHOUSE=...
#   3. prints the image id.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="bridge-base:bookworm"
TAG="bridge:latest"
WHEELHOUSE="build/wheels"
MODE="build"          # build | download-only
ALLOW_DOWNLOAD=1
REFRESH=0
PY_VERSION=""         # of the base image: probed, or --python-version
GLIBC=""
ARCH="${ARCH:-}"      # x86_64 or aarch64 (arm64); probed from the base image when it is there
INDEX_URL="${PIP_INDEX_URL:-}"   # empty: pip's own configuration (pip.conf, PyPI)

usage() {
    cat <<USAGE
Usage: scripts/build-offline.sh [--base IMAGE] [--tag NAME:TAG] [--wheelhouse DIR]
                                [--download-only | --no-download] [--refresh]
                                [--python-version X.Y] [--glibc X.Y] [--arch ARCH]
                                [--index-url URL]

Build the bridge image without any registry: Python packages from a wheelhouse, the base
image from the local engine, docker build --network none. Prints the image id.

  --base IMAGE          local base image with python3 (3.11) and venv (default: ${BASE};
                        make it with scripts/make-base-image.sh, or docker load it)
  --tag NAME:TAG        image to build (default: ${TAG})
  --wheelhouse DIR      the wheelhouse (default: ${WHEELHOUSE}). The image is built from
                        ${WHEELHOUSE}; a folder elsewhere is copied there first.
  --download-only       only fill the wheelhouse (on a machine that reaches a package
                        index), then stop; carry the folder to the build machine
  --no-download         never call pip: fail if the wheelhouse is empty (strictly offline)
  --refresh             empty the wheelhouse and download again
  --python-version X.Y, --glibc X.Y, --arch ARCH
                        the target for downloaded wheels when the base image is not
                        there to ask (default: 3.11, 2.36, x86_64: Debian bookworm);
                        --arch arm64 (or aarch64, or ARCH=arm64) for Kunpeng / Phytium
                        servers: manylinux aarch64 wheels, added to the wheelhouse
  --index-url URL       package index to download from (default: \$PIP_INDEX_URL, else
                        pip's own configuration), e.g. https://pypi.tuna.tsinghua.edu.cn/simple
  -h, --help            this text

Idempotent: a filled wheelhouse is reused, and an unchanged tree builds from the cache.

Examples:
  scripts/build-offline.sh --download-only              # where an index is reachable
  scripts/build-offline.sh --download-only --arch arm64 # the same, for an arm64 build machine
  scripts/build-offline.sh --no-download                # on the intranet machine
  docker run --rm --network none bridge:latest --version
USAGE
}

die() { echo "build-offline: $*" >&2; exit 1; }
say() { echo "build-offline: $*" >&2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --base) BASE="${2:?--base needs a value}"; shift 2 ;;
        --tag) TAG="${2:?--tag needs a value}"; shift 2 ;;
        --wheelhouse) WHEELHOUSE="${2:?--wheelhouse needs a value}"; shift 2 ;;
        --download-only) MODE="download-only"; shift ;;
        --no-download) ALLOW_DOWNLOAD=0; shift ;;
        --refresh) REFRESH=1; shift ;;
        --python-version) PY_VERSION="${2:?--python-version needs a value}"; shift 2 ;;
        --glibc) GLIBC="${2:?--glibc needs a value}"; shift 2 ;;
        --arch) ARCH="${2:?--arch needs a value}"; shift 2 ;;
        --index-url) INDEX_URL="${2:?--index-url needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-offline: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$MODE" == "download-only" && "$ALLOW_DOWNLOAD" -eq 0 ]] \
    && die "--download-only and --no-download contradict each other"

wheel_arch() {  # the wheel tags' names (manylinux_2_36_aarch64), not Debian's
    case "$1" in
        x86_64|amd64) echo x86_64 ;;
        aarch64|arm64) echo aarch64 ;;
        *) echo "build-offline: unsupported --arch $1 (x86_64 or aarch64, alias arm64)" >&2; exit 2 ;;
    esac
}
[[ -z "$ARCH" ]] || ARCH="$(wheel_arch "$ARCH")"

cd "$HERE"
CONTEXT_WHEELS="build/wheels"   # inside the build context; see .dockerignore
have_docker=0
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    have_docker=1
fi

# --- 0. the base image -------------------------------------------------------------------
if [[ "$MODE" == "build" ]]; then
    [[ "$have_docker" -eq 1 ]] || die "the Docker engine is not running (or not reachable)"
    docker image inspect "$BASE" >/dev/null 2>&1 \
        || die "base image $BASE is not in the local engine: make it with scripts/make-base-image.sh, or docker load it"
fi
if [[ "$have_docker" -eq 1 ]] && docker image inspect "$BASE" >/dev/null 2>&1; then
    probe="$(docker run --rm --network none --entrypoint python3 "$BASE" -c \
        'import platform, sys; print("%d.%d" % sys.version_info[:2], platform.libc_ver()[1], platform.machine())')" \
        || die "cannot run python3 in $BASE (an image for another architecture needs qemu-user-static on this host)"
    read -r probed_py probed_glibc probed_arch <<<"$probe"
    PY_VERSION="${PY_VERSION:-$probed_py}"
    GLIBC="${GLIBC:-$probed_glibc}"
    ARCH="${ARCH:-$probed_arch}"
    say "base image $BASE: Python $probed_py, glibc $probed_glibc, $probed_arch"
fi
PY_VERSION="${PY_VERSION:-3.11}"
GLIBC="${GLIBC:-2.36}"
ARCH="$(wheel_arch "${ARCH:-x86_64}")"
if [[ -n "${probed_arch:-}" && "$probed_arch" != "$ARCH" ]]; then
    die "--arch $ARCH, but the base image $BASE is $probed_arch: make one for $ARCH (scripts/make-base-image.sh --arch)"
fi
# An image for another architecture than this host's: built and run under emulation
# (qemu-user-static); on an arm64 host, an arm64 build needs nothing of the kind.
platform=()
[[ "$ARCH" == "$(uname -m)" ]] || platform=(--platform "linux/$([[ "$ARCH" == aarch64 ]] && echo arm64 || echo amd64)")
[[ "$PY_VERSION" == "3.11" ]] || say "warning: the bridge is tested on Python 3.11, the target has $PY_VERSION"

# --- 1. the wheelhouse -------------------------------------------------------------------
mkdir -p "$CONTEXT_WHEELS"
if [[ "$(realpath "$WHEELHOUSE")" != "$(realpath "$CONTEXT_WHEELS")" ]]; then
    [[ -d "$WHEELHOUSE" ]] || die "wheelhouse $WHEELHOUSE does not exist"
    say "copying the wheelhouse $WHEELHOUSE into $CONTEXT_WHEELS"
    find "$WHEELHOUSE" -maxdepth 1 \( -name '*.whl' -o -name SHA256SUMS \) \
        -exec cp -p -t "$CONTEXT_WHEELS" {} +
fi
if [[ "$REFRESH" -eq 1 ]]; then
    [[ "$ALLOW_DOWNLOAD" -eq 1 ]] || die "--refresh needs a download: drop --no-download"
    find "$CONTEXT_WHEELS" -maxdepth 1 \( -name '*.whl' -o -name SHA256SUMS \) -delete
fi

count_wheels() { find "$CONTEXT_WHEELS" -maxdepth 1 -name '*.whl' | wc -l; }
# lxml and others are built per machine: a wheelhouse made for x86_64 lacks the aarch64
# wheels (pip picks the matching ones from a wheelhouse holding both).
count_arch_wheels() { find "$CONTEXT_WHEELS" -maxdepth 1 -name "*_${ARCH}.whl" | wc -l; }

if [[ "$(count_wheels)" -eq 0 || "$(count_arch_wheels)" -eq 0 ]]; then
    [[ "$ALLOW_DOWNLOAD" -eq 1 ]] \
        || die "no wheels for $ARCH in $WHEELHOUSE and --no-download given: fill it with --download-only --arch $ARCH where a package index is reachable"
    PYTHON="${PYTHON:-}"
    if [[ -z "$PYTHON" ]]; then
        if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
    fi
    "$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip (set PYTHON=...)"
    requirements="$(mktemp)"
    trap 'rm -f "$requirements"' EXIT
    # The project's dependencies and its build requirements, read from pyproject.toml.
    "$PYTHON" - >"$requirements" <<'PY'
import tomllib

with open("pyproject.toml", "rb") as f:
    data = tomllib.load(f)
print("\n".join(data["project"]["dependencies"] + data["build-system"]["requires"]))
PY
    platforms=()
    glibc_minor="${GLIBC#*.}"
    for ((minor = glibc_minor; minor >= 17; minor--)); do
        platforms+=(--platform "manylinux_2_${minor}_${ARCH}")
    done
    platforms+=(--platform "manylinux2014_${ARCH}")
    abi="cp${PY_VERSION/./}"
    index=()
    [[ -z "$INDEX_URL" ]] || index=(--index-url "$INDEX_URL")
    say "downloading wheels for CPython $PY_VERSION, glibc $GLIBC, $ARCH into $CONTEXT_WHEELS${INDEX_URL:+ from $INDEX_URL}"
    "$PYTHON" -m pip download --disable-pip-version-check --quiet "${index[@]}" \
        --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
        --abi "$abi" --abi abi3 --abi none "${platforms[@]}" \
        --dest "$CONTEXT_WHEELS" -r "$requirements" \
        || die "pip download failed: is a package index reachable from here (--index-url, PIP_INDEX_URL)?"
    (cd "$CONTEXT_WHEELS" && sha256sum -- *.whl >SHA256SUMS)
    say "wheelhouse: $(count_wheels) wheels, SHA256SUMS written"
elif [[ -f "$CONTEXT_WHEELS/SHA256SUMS" ]]; then
    (cd "$CONTEXT_WHEELS" && sha256sum --check --quiet SHA256SUMS) \
        || die "$CONTEXT_WHEELS does not match its SHA256SUMS"
    say "wheelhouse: $(count_wheels) wheels, SHA256SUMS checked"
else
    say "wheelhouse: $(count_wheels) wheels (no SHA256SUMS to check them against)"
fi

if [[ "$MODE" == "download-only" ]]; then
    say "done; carry $HERE/$CONTEXT_WHEELS (and the base image: docker save $BASE) to the build machine"
    exit 0
fi

# --- 2. the image, with no network -------------------------------------------------------
iidfile="$(mktemp)"
trap 'rm -f "$iidfile" "${requirements:-}"' EXIT
say "docker build --network none --build-arg BASE_IMAGE=$BASE -t $TAG"
docker build --network none "${platform[@]}" \
    --build-arg "BASE_IMAGE=$BASE" \
    --build-arg "WHEELHOUSE=$CONTEXT_WHEELS" \
    --iidfile "$iidfile" -t "$TAG" . >&2
docker run --rm --network none "${platform[@]}" "$TAG" --version >&2
cat "$iidfile"
echo
