from django.urls import path

from . import apis

urlpatterns = [
    path("hakwons/", apis.HakwonListApi.as_view(), name="api-hakwons"),
    path("hakwons/today/", apis.HakwonTodayApi.as_view(), name="api-hakwon-today"),
    path("hakwons/<int:hakwon_id>/", apis.HakwonDetailApi.as_view(), name="api-hakwon"),
    path(
        "hakwons/<int:hakwon_id>/comments/",
        apis.HakwonCommentsApi.as_view(),
        name="api-hakwon-comments",
    ),
    path(
        "hakwons/<int:hakwon_id>/comments/best/",
        apis.HakwonBestApi.as_view(),
        name="api-hakwon-best",
    ),
    path("comments/<int:comment_id>/", apis.CommentDetailApi.as_view(), name="api-comment"),
    path(
        "comments/<int:comment_id>/replies/",
        apis.CommentRepliesApi.as_view(),
        name="api-comment-replies",
    ),
    path("comments/<int:comment_id>/like/", apis.CommentLikeApi.as_view(), name="api-comment-like"),
    path("users/<str:username>/awards/", apis.MemberAwardsApi.as_view(), name="api-member-awards"),
]
