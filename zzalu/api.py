"""Small pieces every DRF endpoint of the project shares."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle


class JSONParser(parsers.JSONParser):
    """DRF's, but JSON nested too deeply for Python's parser (~1000 levels) is a 400: DRF
    turns only ValueError into a ParseError, and the RecursionError was a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc


class WriteThrottle(ScopedRateThrottle):
    """Throttle unsafe methods only, per member (or per IP when anonymous)."""

    scope_attr = "throttle_scope"

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        if not getattr(view, self.scope_attr, None):
            view.throttle_scope = "writes"
        return super().allow_request(request, view)


class AnonReadThrottle(AnonRateThrottle):
    """Reads by anonymous clients, per address (API_ANON_READ_THROTTLE). The default for every
    endpoint; views that list their own throttles name it too."""

    scope = "anon_reads"

    def allow_request(self, request, view):
        if request.method not in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


def query_params(serializer_class, request):
    """Validate query parameters with a serializer; invalid ones are a 400."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@csrf_exempt  # unsafe methods to unknown paths should read 404, not a CSRF page
def api_not_found(request):
    """Unknown /api/ paths answer in JSON like every other API error."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
