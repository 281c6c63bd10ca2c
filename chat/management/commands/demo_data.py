from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import user_create
from chat.models import ChatRoom
from chat.services import room_create
from comments.services import hakwon_tick

DEMO_ROOMS = [
    ("고독한 고양이방", "짤로만 대화하는 고양이 방", ["고양이", "동물"]),
    ("개발자 짤방", "배포 전날 밤의 짤", ["개발", "유머"]),
    ("무한도전 짤방", "레전드 짤 모음", ["예능", "무도"]),
]


class Command(BaseCommand):
    help = "Create the demo member, a few rooms and today's title-hakwon (safe to run again)."

    def handle(self, *args, **options):
        demo = User.objects.filter(username="demo").first() or user_create(
            username="demo", password="zzalu-demo-1234", nickname="데모"
        )
        for name, description, tags in DEMO_ROOMS:
            if not ChatRoom.objects.filter(name=name).exists():
                room_create(owner=demo, name=name, description=description, tags=tags)
        hakwon_tick()  # today's title-hakwon, open
        self.stdout.write("demo member: demo / zzalu-demo-1234")
