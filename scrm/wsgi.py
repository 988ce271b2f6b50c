"""The WSGI application, served by gunicorn (in the image and in `siyu.py up`). In development without
DATABASE_URL / REDIS_URL it starts or joins the embedded servers first; in production it starts
nothing and the settings require both."""

import os

from django.core.wsgi import get_wsgi_application

from scrm import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
embedded.prepare()  # a no-op in production, or when manage.py (runserver) has prepared this process
application = get_wsgi_application()
