from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Customers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from crm.edges.api import schema  # noqa: F401 (registers the OpenAPI auth extensions)
