from django.apps import AppConfig


class TransferConfig(AppConfig):
    name = "transfer"
    verbose_name = "File transfer"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from config import metrics
        from transfer import recent_sign_in, sign_in_log

        recent_sign_in.connect()
        metrics.register_scrape_collector(sign_in_log.BufferCollector())
