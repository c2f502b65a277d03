from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty: members, ledger, rewards"

    def ready(self) -> None:
        from loyalty.handlers import handlers_register

        handlers_register()
