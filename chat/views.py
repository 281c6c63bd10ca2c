from django.shortcuts import render

from . import selectors


def room_list(request):
    rooms = list(selectors.room_list(search=request.GET.get("q", ""))[:50])
    online = selectors.room_online_counts(room_ids=[r.pk for r in rooms])
    for room in rooms:
        room.online = online.get(room.pk)
    return render(request, "chat/room_list.html", {"rooms": rooms})
