from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Members"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        from .services import refresh_tokens_revoke

        def revoke_on_logout(sender, request, user, **kwargs):
            """Logging out of a page (the site's or the admin's) also takes back the member's
            refresh tokens: "log out" means everywhere, as POST /api/auth/logout/ does."""
            if user is not None:
                refresh_tokens_revoke(user_id=user.pk)

        user_logged_out.connect(revoke_on_logout, dispatch_uid="accounts.revoke_on_logout")
