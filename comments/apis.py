from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from zzalu.api import AnonReadThrottle, WriteThrottle, query_params
from zzalu.errors import NotFound

from . import selectors, services
from .serializers import (
    AwardSerializer,
    BestQuerySerializer,
    CommentQuerySerializer,
    CommentSerializer,
    CommentWriteSerializer,
    HakwonQuerySerializer,
    HakwonSerializer,
    LikeSerializer,
)

ERROR = OpenApiTypes.OBJECT


def _hakwon_or_404(hakwon_id: int):
    hakwon = selectors.hakwon_get(hakwon_id=hakwon_id)
    if hakwon is None:
        raise NotFound("No such title-hakwon.")
    return hakwon


def _comment_or_404(comment_id: int):
    comment = selectors.comment_get(comment_id=comment_id)
    if comment is None:
        raise NotFound("No such comment.")
    return comment


class CommentCursor(CursorPagination):
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"

    def get_ordering(self, request, queryset, view):
        ordering = query_params(CommentQuerySerializer, request)["ordering"]
        return selectors.COMMENT_ORDERINGS[ordering]


class ReplyCursor(CommentCursor):
    def get_ordering(self, request, queryset, view):
        return selectors.COMMENT_ORDERINGS["oldest"]


def comments_data(request, comments) -> list[dict]:
    """Comments as the API shows them, each saying whether the requesting member likes it."""
    liked = selectors.liked_ids(user=request.user, comment_ids=[c.pk for c in comments])
    return CommentSerializer(comments, many=True, context={"liked": liked}).data


def created(comment) -> Response:
    return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class HakwonListApi(generics.ListAPIView):
    serializer_class = HakwonSerializer

    @extend_schema(parameters=[HakwonQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.hakwon_list(
            state=query_params(HakwonQuerySerializer, self.request).get("state")
        )


class HakwonTodayApi(APIView):
    @extend_schema(responses={200: HakwonSerializer, 404: ERROR})
    def get(self, request):
        hakwon = selectors.hakwon_of_today()
        if hakwon is None:
            raise NotFound("Today's title-hakwon has not been set up yet.")
        return Response(HakwonSerializer(hakwon).data)


class HakwonDetailApi(APIView):
    @extend_schema(responses={200: HakwonSerializer, 404: ERROR})
    def get(self, request, hakwon_id: int):
        return Response(HakwonSerializer(_hakwon_or_404(hakwon_id)).data)


class HakwonCommentsApi(generics.GenericAPIView):
    serializer_class = CommentSerializer
    pagination_class = CommentCursor
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    @extend_schema(
        parameters=[CommentQuerySerializer],
        responses={200: CommentSerializer(many=True), 404: ERROR},
    )
    def get(self, request, hakwon_id: int):
        _hakwon_or_404(hakwon_id)
        page = self.paginate_queryset(selectors.comment_list(hakwon_id=hakwon_id))
        return self.get_paginated_response(comments_data(request, page))

    @extend_schema(
        request=CommentWriteSerializer,
        responses={201: CommentSerializer, 400: ERROR, 401: ERROR, 404: ERROR},
    )
    def post(self, request, hakwon_id: int):
        if not request.user.is_authenticated:
            self.permission_denied(request)
        hakwon = _hakwon_or_404(hakwon_id)
        data = CommentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_create(hakwon=hakwon, author=request.user, **data.validated_data)
        return created(comment)


class HakwonBestApi(APIView):
    @extend_schema(
        parameters=[BestQuerySerializer], responses={200: CommentSerializer(many=True), 404: ERROR}
    )
    def get(self, request, hakwon_id: int):
        _hakwon_or_404(hakwon_id)
        best = selectors.comment_best(
            hakwon_id=hakwon_id, **query_params(BestQuerySerializer, request)
        )
        return Response(comments_data(request, best))


class CommentDetailApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    @extend_schema(
        request=CommentWriteSerializer,
        responses={200: CommentSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def patch(self, request, comment_id: int):
        data = CommentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_edit(
            comment=_comment_or_404(comment_id), user=request.user, **data.validated_data
        )
        return Response(comments_data(request, [comment])[0])

    @extend_schema(responses={204: None, 400: ERROR, 403: ERROR, 404: ERROR})
    def delete(self, request, comment_id: int):
        services.comment_delete(comment=_comment_or_404(comment_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentRepliesApi(generics.GenericAPIView):
    serializer_class = CommentSerializer
    pagination_class = ReplyCursor
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    @extend_schema(responses={200: CommentSerializer(many=True), 404: ERROR})
    def get(self, request, comment_id: int):
        parent = _comment_or_404(comment_id)
        page = self.paginate_queryset(selectors.reply_list(parent_id=parent.pk))
        return self.get_paginated_response(comments_data(request, page))

    @extend_schema(
        request=CommentWriteSerializer,
        responses={201: CommentSerializer, 400: ERROR, 401: ERROR, 404: ERROR},
    )
    def post(self, request, comment_id: int):
        if not request.user.is_authenticated:
            self.permission_denied(request)
        data = CommentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply = services.reply_create(
            parent=_comment_or_404(comment_id), author=request.user, **data.validated_data
        )
        return created(reply)


class CommentLikeApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonReadThrottle, WriteThrottle]

    @extend_schema(
        request=None, responses={201: LikeSerializer, 400: ERROR, 404: ERROR, 409: ERROR}
    )
    def post(self, request, comment_id: int):
        count = services.comment_like(comment=_comment_or_404(comment_id), user=request.user)
        return Response(
            {"comment_id": comment_id, "like_count": count}, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={204: None, 400: ERROR, 404: ERROR})
    def delete(self, request, comment_id: int):
        services.comment_unlike(comment=_comment_or_404(comment_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberAwardsApi(generics.ListAPIView):
    serializer_class = AwardSerializer

    @extend_schema(parameters=[OpenApiParameter("username", str, OpenApiParameter.PATH)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.award_list(username=self.kwargs["username"])
