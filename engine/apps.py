from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Publishing, pausing or editing a workflow refreshes the trigger index and schedules.
        from engine.triggers import lifecycle

        lifecycle.connect()
