from django.urls import path

from zzalu import converters  # noqa: F401  (registers <id:…>)

from . import apis

urlpatterns = [
    path("hakwons/", apis.HakwonListApi.as_view(), name="api-hakwons"),
    path("hakwons/today/", apis.HakwonTodayApi.as_view(), name="api-hakwon-today"),
    path("hakwons/<id:hakwon_id>/", apis.HakwonDetailApi.as_view(), name="api-hakwon"),
    path(
        "hakwons/<id:hakwon_id>/comments/",
        apis.HakwonCommentsApi.as_view(),
        name="api-hakwon-comments",
    ),
    path(
        "hakwons/<id:hakwon_id>/comments/best/",
        apis.HakwonBestApi.as_view(),
        name="api-hakwon-best",
    ),
    path("comments/<id:comment_id>/", apis.CommentDetailApi.as_view(), name="api-comment"),
    path(
        "comments/<id:comment_id>/replies/",
        apis.CommentRepliesApi.as_view(),
        name="api-comment-replies",
    ),
    path("comments/<id:comment_id>/like/", apis.CommentLikeApi.as_view(), name="api-comment-like"),
    path("users/<str:username>/awards/", apis.MemberAwardsApi.as_view(), name="api-member-awards"),
]
