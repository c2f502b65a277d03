"""WSGI entry point: Django behind the webhook intake (``merchants.intake``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django_application = get_wsgi_application()

from merchants.intake import IntakeApp  # noqa: E402 - needs the configured Django

application = IntakeApp(django_application)
