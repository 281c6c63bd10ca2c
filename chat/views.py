"""Room pages: the list, a room (its live part runs in static/js/chat/), create, its image, like."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from zzalu import envelope
from zzalu.errors import Conflict, InvalidInput, NotFound, ServiceError

from . import selectors, services
from .forms import RoomForm, RoomImageForm
from .models import ChatRoom
from .moderation import standing_of

ROOMS_PER_PAGE = 20


def room_list(request):
    search = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "recent")
    if sort not in selectors.ROOM_ORDERINGS:
        sort = "recent"
    mine = request.GET.get("mine") == "1" and request.user.is_authenticated
    try:
        matching = selectors.room_list(
            search=search, ordering=sort, member=request.user if mine else None
        )
    except InvalidInput as exc:
        nothing = Paginator(ChatRoom.objects.none(), ROOMS_PER_PAGE).get_page(1)
        context = {"rooms": [], "page": nothing, "search": "", "sort": sort, "mine": mine}
        return render(
            request, "chat/room_list.html", {**context, "search_error": exc.detail}, status=400
        )
    page = Paginator(matching, ROOMS_PER_PAGE).get_page(request.GET.get("page"))
    rooms = list(page)
    room_ids = [r.pk for r in rooms]
    online = selectors.room_online_counts(room_ids=room_ids)
    liked = selectors.room_liked_ids(user=request.user, room_ids=room_ids)
    unread = selectors.room_unread_counts(user=request.user, room_ids=room_ids)
    for room in rooms:
        room.online, room.liked = online.get(room.pk), room.pk in liked
        room.unread = unread.get(room.pk)
    return render(
        request,
        "chat/room_list.html",
        {"rooms": rooms, "page": page, "search": search, "sort": sort, "mine": mine},
    )


def room_detail(request, room_id: int):
    room = selectors.room_get(room_id=room_id)
    if room is None:
        raise Http404("No such room.")
    services.room_join(room_id=room.pk, user=request.user)
    room.online = selectors.room_online_counts(room_ids=[room.pk])[room.pk]
    room.liked = room.pk in selectors.room_liked_ids(user=request.user, room_ids=[room.pk])
    history = selectors.history_frames(
        messages=selectors.message_history(room_id=room.pk), user=request.user
    )
    standing = standing_of(room_id=room.pk, user=request.user)
    muted = standing.muted_until is not None and standing.muted_until > timezone.now()
    context = {
        "room": room,
        "history": history,
        "edit_window": settings.CHAT_EDIT_WINDOW_SECONDS,
        "last_read_seq": selectors.member_last_read_seq(user=request.user, room_id=room.pk),
        # Who runs the room (marks, menus, the settings panel) and what this member may do now
        # (the send box: muted until, slow mode); the page follows both from the room's frames.
        "moderation": {
            "roster": selectors.room_roster(room=room, viewer=request.user),
            "standing": {
                "muted_until": envelope.iso(standing.muted_until) if muted else None,
                "banned": standing.banned,
                "ban_reason": standing.ban_reason if standing.banned else "",
                "slow_mode_seconds": standing.slow_mode_seconds,
                "exempt": standing.exempt,
            },
        },
    }
    return render(request, "chat/room_detail.html", context)


@login_required
def room_create(request):
    form = RoomForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        image_file = fields.pop("image")
        try:
            room = services.room_create(owner=request.user, image_file=image_file, **fields)
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "방을 만들었어요. 첫 짤을 올려 보세요!")
            return redirect("room-detail", room_id=room.pk)
    return render(request, "chat/room_form.html", {"form": form})


@login_required
def room_edit(request, room_id: int):
    """The room's image, for its owner (and staff who may change rooms)."""
    room = selectors.room_get(room_id=room_id)
    if room is None:
        raise Http404("No such room.")
    if not services.room_image_editable(room=room, user=request.user):
        raise PermissionDenied("Only the room's owner and staff can change its image.")
    posted = request.method == "POST"  # a form of files only: its POST may be empty
    form = RoomImageForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        try:
            services.room_image_set(
                room=room, user=request.user, image_file=form.cleaned_data["image"]
            )
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "대표 이미지를 바꿨어요.")
            return redirect("room-detail", room_id=room.pk)
    return render(request, "chat/room_form.html", {"form": form, "room": room})


@require_POST
@login_required
def room_like(request, room_id: int):
    """Like or unlike (``intent``); scripts get JSON, plain form posts go back where they were."""
    room = selectors.room_get(room_id=room_id)
    if room is None:
        raise Http404("No such room.")
    liked = request.POST.get("intent") != "unlike"
    try:
        if liked:
            count = services.room_like(room=room, user=request.user)
        else:
            count = services.room_unlike(room=room, user=request.user)
    except (Conflict, NotFound):  # already so (a double click, another tab): not an error
        count = selectors.room_get(room_id=room.pk).like_count
    if request.headers.get("Accept") == "application/json":
        return JsonResponse({"room_id": room.pk, "liked": liked, "like_count": count})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("room-detail", args=[room.pk])
    # Not redirect(): it would try a ``next`` without "/" or "." as a view name (a 500).
    return HttpResponseRedirect(back)
