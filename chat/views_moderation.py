"""The reports page of a room, for its owner, moderators and staff: the reported messages,
each with what was said around it, and one-click actions (resolve, delete, ban the author)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render

from zzalu.errors import ServiceError
from zzalu.kafka import KafkaUnavailable

from . import changes, moderation, selectors
from .models import ChatRoom

REPORTS_PER_PAGE = 100
CONTEXT = 2  # messages shown before and after a reported one


@login_required
def room_reports(request, room_id: int):
    room = get_object_or_404(ChatRoom.objects.select_related("owner"), pk=room_id)
    moderates = moderation.role_in(room, request.user) is not None
    if not (moderates or request.user.has_perm("chat.view_messagereport")):
        raise PermissionDenied("Only the room's owner, its moderators and staff see its reports.")
    if request.method == "POST":
        if not moderates:  # staff who may only look
            raise PermissionDenied("Only the room's owner, its moderators and staff act on them.")
        _act(request, room)
        return redirect("room-reports", room_id=room.pk)
    reports = list(selectors.room_reports(room_id=room.pk)[:REPORTS_PER_PAGE])
    for report in reports:
        seq = report.message.seq
        report.around = selectors.message_history(
            room_id=room.pk, after_seq=max(0, seq - CONTEXT - 1), limit=2 * CONTEXT + 1
        )
    return render(request, "chat/room_reports.html", {"room": room, "reports": reports})


def _act(request, room: ChatRoom) -> None:
    report = selectors.room_reports(room_id=room.pk).filter(pk=request.POST.get("report")).first()
    if report is None:
        messages.info(request, "이미 처리된 신고예요.")
        return
    action = request.POST.get("action")
    try:
        if action == "delete" and not report.message.is_deleted:
            changes.message_remove(message=report.message, user=request.user)
        elif action == "ban" and report.message.sender_id:
            moderation.moderation_act(
                room_id=room.pk,
                actor=request.user,
                payload={
                    "action": "ban",
                    "user_id": report.message.sender_id,
                    "reason": report.reason,
                },
            )
        elif action != "resolve":
            messages.error(request, "알 수 없는 처리예요.")
            return
    except ServiceError as exc:
        messages.error(request, f"처리하지 못했어요: {exc.detail}")
        return
    except KafkaUnavailable:
        messages.error(request, "지금은 처리할 수 없어요. 잠시 후 다시 해 주세요.")
        return
    moderation.reports_resolve(
        reports=selectors.room_reports(room_id=room.pk).filter(message=report.message),
        user=request.user,
    )
    messages.success(request, "신고를 처리했어요.")
