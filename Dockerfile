# Production image: migrate the database, then serve with gunicorn.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TUTOR_INSTANCE_PATH=/var/lib/tutor \
    MPLBACKEND=Agg

RUN useradd --create-home --uid 1000 tutor && mkdir -p /var/lib/tutor && chown tutor /var/lib/tutor
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tutor ./tutor
COPY migrations ./migrations
RUN pip install .

USER tutor
EXPOSE 8000
# TUTOR_DATABASE_URL selects the database (PostgreSQL in production); the default is SQLite in
# /var/lib/tutor, which should then be a volume.
CMD ["sh", "-c", "tutor db upgrade && exec tutor serve --host 0.0.0.0 --port 8000"]
