# One image for every Holodeck service: the command picks what runs.
#
#   docker build -t holodeck .
#   docker run -p 8080:8080 -v holodeck_data:/home/holodeck/.holodeck holodeck
#       (the default command: embedded NATS, every service and the gateway on 8080)
#   docker run holodeck serve planner --metrics-port 9101      (one service against NATS_URL)
#
# The process runs as the unprivileged user "holodeck" (uid/gid 10001). Its workspace is
# ~/.holodeck = /home/holodeck/.holodeck: mount a volume there to keep the embedded NATS
# store, local artifacts and the SQLite status database across restarts.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
# Only the project's own wheel; its dependencies are installed from the index below.
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# Dependencies at the exact versions of requirements.lock (the image is the same from
# one build to the next), then the project alone; pip check proves the set complete.
COPY requirements.lock /tmp/requirements.lock
COPY --from=build /wheels /wheels
# A regular (non-editable) install; it also puts nats-server beside the interpreter.
RUN pip install --no-deps -r /tmp/requirements.lock \
    && pip install --no-deps /wheels/*.whl \
    && pip check \
    && rm -rf /wheels /tmp/requirements.lock \
    && groupadd --gid 10001 holodeck \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/holodeck \
        --shell /usr/sbin/nologin holodeck \
    && mkdir -p /home/holodeck/.holodeck \
    && chown -R 10001:10001 /home/holodeck

USER 10001:10001
WORKDIR /home/holodeck
# HOME decides the workspace (~/.holodeck). The gateway listens on every interface in a
# container; workers serve /health and /metrics there when run with --metrics-host 0.0.0.0.
ENV HOME=/home/holodeck \
    HOLODECK_GATEWAY__HOST=0.0.0.0

# 8080: the gateway (HTTP API, /health, /metrics). 9101-9104: planner, imagegen, meshgen
# and assembly's /health and /metrics when run with `serve <name> --metrics-port <port>`.
EXPOSE 8080 9101 9102 9103 9104

# Every service checks itself: the script finds the /health port in the command the
# container runs (`up`/`serve gateway`: --port, 8080; `serve <worker>`: --metrics-port,
# 9101-9104), or in HOLODECK_HEALTH_PORT; other commands have nothing to check.
COPY deploy/docker/healthcheck.py /usr/local/lib/holodeck/healthcheck.py
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/lib/holodeck/healthcheck.py"]

ENTRYPOINT ["holodeck"]
CMD ["up", "--port", "8080"]
