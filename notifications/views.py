"""The notifications page: the member's latest notifications; opening one marks it read."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import events, selectors, services
from .apis import tell_other_pages
from .models import Notification

PAGE = 50


@login_required
def notification_list(request):
    notifications = list(selectors.notification_inbox(user=request.user)[:PAGE])
    return render(request, "notifications/list.html", {"notifications": notifications})


@login_required
def notification_open(request, notification_id: int):
    """Mark one read and go where it happened."""
    notification = get_object_or_404(Notification, pk=notification_id, recipient=request.user)
    if notification.read_at is None:
        unread = services.notifications_mark_read(user=request.user, ids=[notification.pk])
        tell_other_pages(request.user.pk, events.read_frame(ids=[notification.pk], unread=unread))
    if not url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None):
        return redirect("notification-list")  # the relay lets only site paths in; still
    return redirect(notification.url)


@require_POST
@login_required
def notification_read_all(request):
    unread = services.notifications_mark_read(user=request.user)
    tell_other_pages(request.user.pk, events.read_frame(ids=None, unread=unread))
    return redirect("notification-list")
