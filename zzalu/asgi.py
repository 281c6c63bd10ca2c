"""ASGI entry point: HTTP through Django, WebSockets through Channels (origin-checked, authed),
both through the app's access log (which never writes a query string)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zzalu.settings.base")
django_asgi_app = get_asgi_application()

from importlib import import_module  # noqa: E402

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver, re_path  # noqa: E402

from zzalu.heap import settle  # noqa: E402
from zzalu.logs import AccessLog  # noqa: E402
from zzalu.sockets import UnknownPathConsumer  # noqa: E402
from zzalu.ws_auth import OriginCheck, SocketAuthStack  # noqa: E402

application = AccessLog(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": OriginCheck(
                SocketAuthStack(
                    URLRouter(
                        # Last: any other path closes with 4404 instead of failing with an HTTP 500.
                        [
                            *(
                                route
                                for module in settings.WEBSOCKET_ROUTES
                                for route in import_module(module).websocket_urlpatterns
                            ),
                            re_path(r"", UnknownPathConsumer.as_asgi()),
                        ]
                    )
                )
            ),
        }
    )
)

# The URL conf and the views it imports, loaded now instead of at the first request, so that
# settle() freezes them with the rest of what the process serves with.
get_resolver().url_patterns  # noqa: B018
settle()
