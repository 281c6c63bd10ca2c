"""Title-hakwon pages: today's (or a given day's) image; comments run in static/js/hakwon/."""

from django.http import Http404
from django.shortcuts import render

from . import selectors


def _page(request, hakwon):
    return render(
        request,
        "comments/hakwon.html",
        {"hakwon": hakwon, "winners": selectors.recent_winners()},
    )


def hakwon_today(request):
    return _page(request, selectors.hakwon_of_today())


def hakwon_detail(request, hakwon_id: int):
    hakwon = selectors.hakwon_get(hakwon_id=hakwon_id)
    if hakwon is None:
        raise Http404("No such title-hakwon.")
    return _page(request, hakwon)
