"""Member pages: sign up, log in and out (session), a profile (rooms, captions, awards),
profile editing."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from zzalu.errors import InvalidInput, ServiceError

from .forms import USERNAME_TAKEN, ProfileForm, SignupForm
from .selectors import member_profile
from .services import profile_update, user_create


def _next_url(request) -> str:
    """Where to go next, as a URL: answer it with HttpResponseRedirect, not redirect(), which
    would try a ``next`` without "/" or "." as a view name (a 500)."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if allowed else resolve_url(settings.LOGIN_REDIRECT_URL)


class LoginPage(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def signup(request):
    if request.user.is_authenticated:
        return HttpResponseRedirect(_next_url(request))
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                nickname=form.cleaned_data["nickname"],
            )
        except InvalidInput as exc:  # the name was taken between the form's check and now
            taken = exc.field == "username"
            form.add_error("username" if taken else None, USERNAME_TAKEN if taken else exc.detail)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"환영해요, {user.display_name} 님!")
            return HttpResponseRedirect(_next_url(request))
    return render(request, "accounts/signup.html", {"form": form, "next": _next_url(request)})


def member_detail(request, username: str):
    profile = member_profile(username=username, viewer=request.user)
    if profile is None:
        raise Http404("No such member.")
    return render(
        request,
        "accounts/member.html",
        {"profile": profile, "member": profile.member, "is_me": profile.member == request.user},
    )


@login_required
def profile_edit(request):
    user = request.user
    initial = {
        "nickname": user.nickname,
        "profile_path": user.profile_path,
        "profile_message": user.profile_message,
    }
    form = ProfileForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        avatar, remove = fields.pop("avatar"), fields.pop("avatar_remove")
        try:
            profile_update(user=user, avatar_file=avatar, avatar_remove=remove, **fields)
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "프로필을 저장했어요.")
            return redirect("member-detail", username=user.username)
    return render(request, "accounts/profile_edit.html", {"form": form})
