from django.apps import AppConfig


class DevstoreConfig(AppConfig):
    name = "devstore"
    verbose_name = "Local store simulator"
