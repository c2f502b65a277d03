"""Production settings plus the probe task of the broker-outage test (a real worker runs it)."""

from config.settings.production import *  # noqa: F403

CELERY_IMPORTS = ("tests.config.outage_tasks",)
