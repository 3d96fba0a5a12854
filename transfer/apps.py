from django.apps import AppConfig


class TransferConfig(AppConfig):
    name = "transfer"
    verbose_name = "File transfer"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from transfer import recent_sign_in

        recent_sign_in.connect()
