# One image for all five Mnemo services; docker-compose.yml picks the service with
# `command: ["python", "-m", "mnemo.<service>"]`.
#
#   docker build -t mnemo .
#   docker run --rm -e MNEMO_NATS_URL=... mnemo python -m mnemo.ingest
FROM python:3.11-slim

# Keep in step with UV_VERSION in the Makefile.
ARG UV_VERSION=0.13.9

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH="/app/.venv/bin:${PATH}"

RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
    && groupadd --system mnemo \
    && useradd --system --gid mnemo --home-dir /app --no-create-home mnemo

WORKDIR /app

# The whole workspace (filtered by .dockerignore), then the locked runtime dependencies
# of every member. --frozen: uv.lock is used as is and never re-resolved.
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --all-packages --frozen --no-dev \
    && python -c "import mnemo.contracts" \
    && mkdir -p /app/.mnemo \
    && chown -R mnemo:mnemo /app/.mnemo

USER mnemo

# Services listen on the container's interfaces, not only on loopback.
ENV MNEMO_GATEWAY_HOST=0.0.0.0

EXPOSE 8080
CMD ["python", "-m", "mnemo.gateway"]
