# The tutor's image: `tutor serve` (web), `tutor worker` (background jobs) and `tutor db upgrade` are its
# commands. deploy/compose.yaml runs the production topology with it (nginx, two web instances, a
# worker, PostgreSQL, Redis). Alone (`docker run -p 8000:8000 IMAGE`) it migrates an SQLite database
# in /var/lib/tutor (make it a volume) and serves with one process, whose rate-limit counters are in
# its memory; forum replies then need `tutor worker` in a second container on the same volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TUTOR_INSTANCE_PATH=/var/lib/tutor \
    TUTOR_WORKERS=1 \
    MPLBACKEND=Agg

RUN useradd --create-home --uid 1000 tutor && mkdir -p /var/lib/tutor && chown tutor /var/lib/tutor
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tutor ./tutor
COPY migrations ./migrations
RUN pip install .

USER tutor
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
# TUTOR_DATABASE_URL selects the database (PostgreSQL in production: then run `tutor db upgrade` once,
# as compose's migrate service does, and `tutor serve` alone).
CMD ["sh", "-c", "tutor db upgrade && exec tutor serve --host 0.0.0.0 --port 8000"]
