from .selectors import notification_unread_count


def unread_notifications(request):
    """The nav bar's badge: the member's unread notifications (one count query per page)."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    return {"notification_unread": notification_unread_count(user=user)}
