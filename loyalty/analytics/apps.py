from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "loyalty.analytics"
    label = "analytics"
    verbose_name = "Loyalty analytics: daily and per-customer rollups"
