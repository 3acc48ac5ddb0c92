# bridge — first container image. Build: docker build -t bridge .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bridge ./bridge
RUN pip install . && useradd --system --uid 10001 --home-dir /var/lib/bridge bridge \
    && mkdir -p /var/lib/bridge /etc/bridge && chown bridge /var/lib/bridge
COPY config/bridge.example.toml /etc/bridge/bridge.example.toml

USER bridge
WORKDIR /var/lib/bridge
VOLUME ["/var/lib/bridge"]
ENV BRIDGE_CONFIG=/etc/bridge/bridge.toml BRIDGE_STATE_URL=sqlite:////var/lib/bridge/bridge.db
ENTRYPOINT ["bridge"]
CMD ["sync", "--once"]
