# opsdesk with every extra: a non-root user, data (SQLite, clones, caches) in /data.
#   docker build -t opsdesk .
#   docker run -d -v opsdesk-data:/data -v "$PWD/opsdesk.toml:/etc/opsdesk/opsdesk.toml:ro" \
#     -e OPSDESK_CONFIG=/etc/opsdesk/opsdesk.toml -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN opsdesk
# tests/project/test_deploy_kit.py runs this file's install, health check and command
# in a fresh virtual environment; CI lints it with hadolint.

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY jobs ./jobs
COPY storage ./storage
# Which extras to install: all, or e.g. "slack,postgres" for a smaller image.
ARG EXTRAS=all
RUN python -m venv /opt/opsdesk && /opt/opsdesk/bin/pip install --no-cache-dir "./[${EXTRAS}]"

FROM python:3.12-slim
# git: reviews read repositories and clone remote ones; git-lfs: files a repository
# keeps in git LFS are reviewed as a clone with git-lfs has them. Unpinned on purpose:
# the version follows the base image's Debian release and its security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git git-lfs \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 opsdesk \
    && useradd --create-home --uid 10001 --gid 10001 opsdesk \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/opsdesk /opt/opsdesk
ENV PATH=/opt/opsdesk/bin:$PATH \
    OPSDESK_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 CMD ["opsdesk", "health"]
# SIGTERM: no new fires, running jobs get 20 s, pending posts stay in the outbox.
STOPSIGNAL SIGTERM
CMD ["opsdesk", "run"]
