"""Production settings plus what only the benches need: the floor view's URL and the no-op
Celery task. Used by the processes ``bench/ingest.py`` and ``bench/ledger.py`` start."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench._urls"
CELERY_IMPORTS = ("bench._tasks",)
