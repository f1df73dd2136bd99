# newswatch image: one image for the migrate, worker and beat services of docker-compose.yml.
# Runtime packages only: requirements.lock pins (with hashes) what newswatch needs to run;
# the test and lint tools are in requirements-dev.lock, which this image never installs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY worker ./worker
COPY config ./config
COPY seeds ./seeds
RUN pip install --no-cache-dir --no-deps -e . \
    && useradd --create-home --uid 10001 newswatch \
    && mkdir -p /data /metrics && chown newswatch /data /metrics

USER newswatch
ENV NEWSWATCH_DATA_DIR=/data
ENTRYPOINT ["newswatch"]
CMD ["run"]
