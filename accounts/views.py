"""Member pages: sign up, log in and out (session), a profile with awards, profile editing."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from comments.selectors import award_list
from zzalu.errors import ServiceError

from .forms import ProfileForm, SignupForm
from .models import User
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
        user = user_create(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
            nickname=form.cleaned_data["nickname"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"환영해요, {user.display_name} 님!")
        return HttpResponseRedirect(_next_url(request))
    return render(request, "accounts/signup.html", {"form": form, "next": _next_url(request)})


def member_detail(request, username: str):
    member = get_object_or_404(User, username=username, is_active=True)
    awards = award_list(username=member.username)
    return render(request, "accounts/member.html", {"member": member, "awards": awards})


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
