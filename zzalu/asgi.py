"""ASGI entry point: HTTP through Django, WebSockets through Channels (origin-checked, authed),
both through the app's access log (which never writes a query string)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zzalu.settings.base")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat.routing import websocket_urlpatterns as chat_sockets  # noqa: E402
from comments.routing import websocket_urlpatterns as hakwon_sockets  # noqa: E402
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
                            *chat_sockets,
                            *hakwon_sockets,
                            re_path(r"", UnknownPathConsumer.as_asgi()),
                        ]
                    )
                )
            ),
        }
    )
)
