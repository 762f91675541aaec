from django.apps import AppConfig


class CRMConfig(AppConfig):
    name = "crm"
    default_auto_field = "django.db.models.BigAutoField"
