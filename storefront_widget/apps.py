from django.apps import AppConfig


class StorefrontWidgetConfig(AppConfig):
    name = "storefront_widget"
    verbose_name = "Storefront: app-proxy API, landing page, launcher"

    def ready(self) -> None:
        from storefront_widget import cache_invalidation

        cache_invalidation.connect()
