from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "marketing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from marketing import receivers  # noqa: F401 (connects the profiles_changed receiver)
