# bridge — container image.
#
#   docker build -t bridge .                                   # dependencies from PyPI
#   scripts/build-offline.sh                                   # no registry: see the README
#
# BASE_IMAGE is any Debian-like image whose `python3` is 3.11 with the venv module:
# python:3.11-slim, or the debootstrap image of scripts/make-base-image.sh
# (bridge-base:bookworm: Debian's python3 3.11.2 + python3-venv). The bridge lives in a
# virtualenv at /opt/bridge made with the base's own python3, so both work alike.
#
# WHEELHOUSE is a folder inside the build context. When it holds wheels, everything is
# installed from it alone (pip --no-index): the build needs no network at all
# (`docker build --network none`). When it is absent or empty, pip uses its index.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG WHEELHOUSE=build/wheels
# Smoke test of the installed (not editable) package: every module imports, so a template
# or data file left out of the wheel fails the build, not the daemon's first start.
ARG IMPORT_ALL="import importlib, pkgutil, bridge; names = [m.name for m in pkgutil.walk_packages(bridge.__path__, 'bridge.') if '.migrations' not in m.name and not m.name.endswith('__main__')]; [importlib.import_module(n) for n in names]; print(len(names), 'modules import')"
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
COPY . /src
RUN set -eu; \
    python3 -m venv /opt/bridge; \
    if ls "/src/${WHEELHOUSE}"/*.whl >/dev/null 2>&1; then \
        echo "installing from the wheelhouse ${WHEELHOUSE} only (no index)"; \
        /opt/bridge/bin/pip install --no-index --find-links "/src/${WHEELHOUSE}" /src; \
    else \
        echo "no wheels in ${WHEELHOUSE}: installing from the package index"; \
        /opt/bridge/bin/pip install /src; \
    fi; \
    /opt/bridge/bin/xxgk-bridge --version; /opt/bridge/bin/bridge --version; \
    /opt/bridge/bin/python -c "$IMPORT_ALL"

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="bridge" \
      org.opencontainers.image.description="Keeps a government information disclosure portal in step with a bureau's website"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/bridge/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    BRIDGE_CONFIG=/etc/bridge/bridge.toml \
    BRIDGE_STATE_URL=sqlite:////var/lib/bridge/bridge.db \
    BRIDGE_WAIT_FOR_CONFIG=1
# BRIDGE_WAIT_FOR_CONFIG: `run` with a config error prints the problems and waits for the
# file to change (the container shows unhealthy) instead of exiting 2, which a restart
# policy would restart for ever.
# A fixed uid, so a bind-mounted state folder can be prepared with `chown 10001`.
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /var/lib/bridge \
        --shell /usr/sbin/nologin bridge \
    && mkdir -p /var/lib/bridge /etc/bridge \
    && chown bridge:bridge /var/lib/bridge && chmod 0750 /var/lib/bridge
COPY --from=build /opt/bridge /opt/bridge
COPY config/bridge.example.toml config/sandbox.toml config/compose.toml /etc/bridge/examples/

USER bridge
WORKDIR /var/lib/bridge
VOLUME ["/var/lib/bridge"]
EXPOSE 8803

# The admin server answers /healthz without credentials: 200 when healthy, 503 with the
# reasons otherwise (urlopen raises on 503, so the probe exits 1). Python's urllib, so
# no curl in the image; it reads the port the daemon was given by BRIDGE_ADMIN_PORT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BRIDGE_ADMIN_PORT', '8803'), timeout=4)"]

# Exec form: the daemon is PID 1 and receives `docker stop`'s SIGTERM itself; it finishes
# the item in hand (at most daemon.shutdown_timeout, 45 s) and exits 0, so give it time:
# `docker stop -t 60`, or stop_grace_period: 60s in compose. No --init needed.
# xxgk-bridge, not bridge: the same program, under a name no Debian package uses (Debian's
# iproute2 installs /usr/sbin/bridge). /opt/bridge/bin comes first on PATH, so
# `docker exec NAME bridge status` runs the bridge too.
STOPSIGNAL SIGTERM
ENTRYPOINT ["xxgk-bridge"]
CMD ["run"]
