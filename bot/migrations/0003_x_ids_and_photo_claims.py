"""X's ids get names that cannot be mistaken for foreign keys; photos get a claim time.

A photo left `recognising` by the previous code takes its last update as its claim
time, which is what the sweeper read until now.
"""

from django.db import migrations, models


def claimed_at_from_updated_at(apps, schema_editor):
    Photo = apps.get_model("bot", "Photo")
    Photo.objects.filter(status="recognising", claimed_at=None).update(claimed_at=models.F("updated_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("bot", "0002_retries_and_wordings"),
    ]

    operations = [
        migrations.RenameField("delivery", "for_user_id", "for_user_x_id"),
        migrations.RenameField("tweet", "tweet_id", "x_id"),
        migrations.RenameField("tweet", "for_user_id", "for_user_x_id"),
        migrations.RenameField("tweet", "author_id", "author_x_id"),
        migrations.RenameField("tweet", "in_reply_to_tweet_id", "in_reply_to_x_id"),
        migrations.RenameField("tweet", "in_reply_to_user_id", "in_reply_to_user_x_id"),
        migrations.RenameField("reply", "reply_tweet_id", "x_id"),
        migrations.AlterField(
            model_name="delivery",
            name="for_user_x_id",
            field=models.CharField(blank=True, help_text="The subscribed account X delivered it for.", max_length=20),
        ),
        migrations.AlterField(
            model_name="tweet",
            name="for_user_x_id",
            field=models.CharField(blank=True, help_text="The subscribed account X delivered it for.", max_length=20),
        ),
        migrations.AlterField(
            model_name="tweet",
            name="x_id",
            field=models.CharField(max_length=20, unique=True, verbose_name="X id"),
        ),
        migrations.AlterField(
            model_name="reply",
            name="x_id",
            field=models.CharField(blank=True, help_text="The posted reply's id on X.", max_length=20, verbose_name="X id"),
        ),
        migrations.AlterField(
            model_name="tweet",
            name="not_before",
            field=models.DateTimeField(blank=True, help_text="X's rate limit: the sweeper leaves the tweet alone until then.", null=True),
        ),
        migrations.AddField(
            model_name="photo",
            name="claimed_at",
            field=models.DateTimeField(blank=True, help_text="When a worker last claimed it for recognition.", null=True),
        ),
        migrations.RunPython(claimed_at_from_updated_at, migrations.RunPython.noop),
    ]
