"""A password change takes back the member's refresh tokens, whichever way it happens.

Django tells every configured password validator after a password was saved
(``password_changed``): the admin's password forms, ``manage.py changepassword`` and any page
or API added later all pass through it, so no path can forget to revoke.

Also: the rules a browser can check by itself, mirrored onto the sign-up form's password input.
"""

from django.contrib.auth import password_validation

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


def password_rule_attrs() -> dict[str, str]:
    """The configured password rules a browser can check by itself, as attributes of a
    new-password input, each with the validator's own message (static/js/forms.js shows it
    as the member types). The server still runs every validator: this only mirrors them."""
    attrs: dict[str, str] = {}
    for validator in password_validation.get_default_password_validators():
        if isinstance(validator, password_validation.MinimumLengthValidator):
            attrs["minlength"] = str(validator.min_length)
            attrs["data-error-too-short"] = validator.get_error_message()
        elif isinstance(validator, password_validation.NumericPasswordValidator):
            attrs["pattern"] = r".*\D.*"  # at least one character that is not a digit
            attrs["data-error-pattern"] = validator.get_error_message()
    return attrs


def password_rules_help_html() -> str:
    """The rules for a new password as a list, without the validators that are no rule."""
    return password_validation.password_validators_help_text_html(
        [
            validator
            for validator in password_validation.get_default_password_validators()
            if not isinstance(validator, RevokeTokensOnPasswordChange)
        ]
    )
