"""Content-Security-Policy on every response: code and styles only from our own static files.

Pages pass data through ``data-*`` attributes and ``json_script`` (JSON, not code), so no
inline script or style is ever needed; an injected ``<script>`` would not run even if
escaping failed somewhere. Images may come from anywhere: chat GIFs are links to other sites.
"""

from django.core.exceptions import DisallowedHost

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' https: http: data:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "object-src": "'none'",
}


def _policy(request) -> str:
    directives = dict(POLICY)
    try:
        host = request.get_host()
    except DisallowedHost:
        host = None
    if host:
        # CSP3 lets 'self' cover same-host WebSockets, but older browsers need them named.
        directives["connect-src"] += f" ws://{host} wss://{host}"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", _policy(request))
        return response
