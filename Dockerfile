# The relay as a container image: `docker build -t claude-relay .`, then
#   docker run -p 8080:8080 -e RELAY_BEDROCK_REGION=us-east-1 -e RELAY_TABLE_NAME=... claude-relay
# The CDK app builds it for Fargate (`compute: "fargate"`) during `cdk deploy`; docs/aws.md.
#
# Base: python:3.14.1-slim (the Lambda relay's Python 3.14), pinned by the digest of its
# multi-arch index as published on Docker Hub and recorded by the Renovate-maintained Dockerfile
# of github.com/gidoichi/ADSSMG_RaspberryPi_HAT (an arm64 build). Bump tag and digest together:
#   docker buildx imagetools inspect python:<tag>   (the "Digest:" line)
ARG BASE=python:3.14.1-slim@sha256:b823ded4377ebb5ff1af5926702df2284e53cecbc6e3549e93a19d8632a1897e

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# uv only exports the lock; it stays in this stage.
RUN pip install uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
# The relay's runtime dependencies ([project] dependencies) at the lock's versions and hashes,
# as wheels only: nothing compiles, no build tools in the image.
RUN uv export --frozen --no-dev --no-emit-project --format requirements-txt -o requirements.txt \
    && pip install --no-deps --require-hashes --only-binary=:all: \
        --target /app/packages -r requirements.txt
COPY lambdas/relay /app/relay
COPY relaykit/__init__.py relaykit/server_options.py relaykit/container.py /app/relaykit/
# Bytecode for every module, checked by hash (file times in layers do not matter): the
# read-only image never compiles at start.
RUN python -m compileall -q -j 0 --invalidation-mode unchecked-hash /app

FROM ${BASE}
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin relay
COPY --from=build /app /app
ENV PYTHONPATH=/app:/app/packages \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RELAY_HOST=0.0.0.0 \
    PORT=8080
USER 10001
EXPOSE 8080
# Liveness only: /health answers without a key and without calling Bedrock.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/health', timeout=4)"]
ENTRYPOINT ["python", "-m", "relaykit.container"]
