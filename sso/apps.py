from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        from accounts.session_store import sessions_cleared
        from sso import compiled_xml
        from sso.signals import forget_gone_oidc_sessions, forget_oidc_session

        compiled_xml.install()
        user_logged_out.connect(forget_oidc_session, dispatch_uid="sso.forget_oidc_session")
        sessions_cleared.connect(
            forget_gone_oidc_sessions, dispatch_uid="sso.forget_gone_oidc_sessions"
        )
