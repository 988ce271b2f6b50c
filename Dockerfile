# Production image: web (gunicorn), worker and beat all run from it with different commands.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SIYU_ENV=production

RUN useradd --system --create-home --uid 1000 siyu

WORKDIR /app
COPY pyproject.toml requirements.lock ./
# Only the product's own dependencies (pyproject's main list) and what they need, at the lock's
# versions: the embedded servers, test tools and everything they pull in stay out of this image.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.prod.in \
    && pip install --no-cache-dir -r requirements.prod.in -c requirements.lock

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
