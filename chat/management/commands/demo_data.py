import io

from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import avatar_set, user_create
from chat.models import ChatRoom
from chat.services import room_create, room_image_set
from comments.selectors import hakwon_of_today
from comments.services import hakwon_tick
from uploads.demo_images import demo_gif
from uploads.services import upload_create

# name, description, tags, the picture drawn for it (uploads.demo_images.DRAWINGS)
DEMO_ROOMS = [
    ("고독한 고양이방", "짤로만 대화하는 고양이 방", ["고양이", "동물"], "cat"),
    ("개발자 짤방", "배포 전날 밤의 짤", ["개발", "유머"], "terminal"),
    ("무한도전 짤방", "레전드 짤 모음", ["예능", "무도"], "stars"),
]
DEMO_AVATAR = "heart"
DEMO_CONTEST = "blob"


def _gif(name: str, *, scale: int = 1) -> io.BytesIO:
    return io.BytesIO(demo_gif(name, scale=scale))


class Command(BaseCommand):
    help = (
        "Create the demo member, a few rooms and today's title-hakwon, with images drawn in code "
        "(no network needed). Safe to run again: what exists is kept, nothing is uploaded twice."
    )

    def handle(self, *args, **options):
        demo = User.objects.filter(username="demo").first() or user_create(
            username="demo", password="zzalu-demo-1234", nickname="데모"
        )
        if demo.avatar_id is None and not demo.profile_path:
            avatar_set(user=demo, file=_gif(DEMO_AVATAR))
        for name, description, tags, picture in DEMO_ROOMS:
            room = ChatRoom.objects.filter(name=name).first()
            if room is None:
                room_create(
                    owner=demo,
                    name=name,
                    description=description,
                    tags=tags,
                    image_file=_gif(picture),
                )
            elif room.owner_id == demo.pk and not (room.image_id or room.image_url):
                room_image_set(room=room, user=demo, image_file=_gif(picture))  # an older demo
        hakwon_tick()  # today's title-hakwon, open
        today = hakwon_of_today()
        if today is not None and not (today.image_id or today.image_url):
            today.image = upload_create(owner=demo, file=_gif(DEMO_CONTEST, scale=2))
            today.save(update_fields=["image"])
        self.stdout.write("demo member: demo / zzalu-demo-1234")
