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
COPY --from=build /wheels /wheels
# A regular (non-editable) install; it also puts nats-server beside the interpreter.
RUN pip install /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --gid 10001 holodeck \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/holodeck \
        --shell /usr/sbin/nologin holodeck \
    && mkdir -p /home/holodeck/.holodeck \
    && chown -R 10001:10001 /home/holodeck

USER 10001:10001
WORKDIR /home/holodeck
# HOME decides the workspace (~/.holodeck). The gateway listens on every interface in a
# container; workers already serve /health and /metrics on 0.0.0.0.
ENV HOME=/home/holodeck \
    HOLODECK_GATEWAY__HOST=0.0.0.0

# 8080: the gateway (HTTP API, /health, /metrics). 9101-9104: planner, imagegen, meshgen
# and assembly's /health and /metrics when run with `serve <name> --metrics-port <port>`.
EXPOSE 8080 9101 9102 9103 9104

# Checks the default command's gateway; docker-compose.yml sets each worker's own port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; u.urlopen(f'http://127.0.0.1:{sys.argv[1]}/health', timeout=4)", "8080"]

ENTRYPOINT ["holodeck"]
CMD ["up", "--port", "8080"]
