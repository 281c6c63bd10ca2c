from django.db import migrations


def blank_deleted_text(apps, schema_editor):
    """Deleted placeholders kept their text until now; nothing may show it again."""
    Comment = apps.get_model("comments", "Comment")
    Comment.objects.filter(is_deleted=True).exclude(content="").update(content="")


class Migration(migrations.Migration):
    dependencies = [("comments", "0001_initial")]

    operations = [migrations.RunPython(blank_deleted_text, migrations.RunPython.noop)]
