from importlib import import_module

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self):
        super().import_models()
        # Directory events, API keys and webhooks are models of this app too; their
        # module is imported here so that accounts.models need not import it back.
        import_module("accounts.events.models")

    def ready(self):
        from accounts import sessions

        sessions.connect()
