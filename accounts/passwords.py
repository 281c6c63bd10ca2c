"""A password change takes back the member's refresh tokens, whichever way it happens.

Django tells every configured password validator after a password was saved
(``password_changed``): the admin's password forms, ``manage.py changepassword`` and any page
or API added later all pass through it, so no path can forget to revoke.
"""

from .services import refresh_tokens_revoke


class RevokeTokensOnPasswordChange:
    """Not a rule for new passwords (it accepts every one); listed in AUTH_PASSWORD_VALIDATORS
    for the ``password_changed`` hook only."""

    def validate(self, password, user=None) -> None:
        return None

    def password_changed(self, password, user=None) -> None:
        if user is not None and user.pk is not None:
            refresh_tokens_revoke(user_id=user.pk)

    def get_help_text(self) -> str:  # shown with the rules wherever a password is set
        return "비밀번호를 바꾸면 앱과 다른 기기의 로그인이 모두 풀려요."
