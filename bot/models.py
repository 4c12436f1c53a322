"""What the bot records: every delivery, post, photo, label and reply."""

from __future__ import annotations

from django.db import models


class Delivery(models.Model):
    """One validly signed POST from X, kept byte for byte so it can be replayed."""

    class Outcome(models.TextChoices):
        RECORDED = "recorded", "recorded"
        INVALID = "invalid", "invalid payload"
        FAILED = "failed", "failed"

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    body = models.BinaryField()
    size = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    for_user_id = models.CharField(max_length=20, blank=True)
    event_kinds = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.outcome})"


class Tweet(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "received"
        PROCESSING = "processing", "processing"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "skipped"
        DELETED = "deleted", "deleted"

    # States the sweeper may pick up again; everything else is final.
    PENDING_STATUSES = (Status.RECEIVED, Status.PROCESSING)

    tweet_id = models.CharField(max_length=20, unique=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="tweets")
    for_user_id = models.CharField(max_length=20, blank=True)
    author_id = models.CharField(max_length=20)
    author_username = models.CharField(max_length=50, blank=True)
    text = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    in_reply_to_tweet_id = models.CharField(max_length=20, blank=True)
    in_reply_to_user_id = models.CharField(max_length=20, blank=True)
    is_own = models.BooleanField(default=False)
    is_repost = models.BooleanField(default=False)
    is_quote = models.BooleanField(default=False)
    mentions_bot = models.BooleanField(default=False)
    replies_to_bot = models.BooleanField(default=False)
    quotes_bot = models.BooleanField(default=False)

    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    skip_reason = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="X's rate limit: the sweeper leaves the post alone until then."
    )
    photos_cleanup = models.BooleanField(
        default=False, help_text="Its stored photos are to go (settled without IMAGEBOT_KEEP_PHOTOS, or deleted)."
    )

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"tweet {self.tweet_id}"

    @property
    def url(self) -> str:
        return f"https://x.com/{self.author_username or 'i'}/status/{self.tweet_id}"


class Photo(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        STORED = "stored", "stored"
        RECOGNISING = "recognising", "recognising"
        RECOGNISED = "recognised", "recognised"
        FAILED = "failed", "failed"

    SETTLED_STATUSES = (Status.RECOGNISED, Status.FAILED)

    class MediaType(models.TextChoices):
        PHOTO = "photo", "photo"
        ANIMATED_GIF = "animated_gif", "animated GIF"
        VIDEO = "video", "video"

    tweet = models.ForeignKey(Tweet, on_delete=models.CASCADE, related_name="photos")
    position = models.PositiveSmallIntegerField()
    media_key = models.CharField(max_length=40, blank=True)
    media_type = models.CharField(max_length=16, choices=MediaType.choices, default=MediaType.PHOTO)
    source_url = models.CharField(max_length=1000)
    is_thumbnail = models.BooleanField(default=False, help_text="The still X provides for a GIF or video.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    file = models.FileField(max_length=300, blank=True)
    content_type = models.CharField(max_length=40, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    labels_detected = models.BooleanField(
        default=False, help_text="DetectLabels answered and its labels are kept; a retry asks only for moderation labels."
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tweet_id", "position"]
        constraints = [models.UniqueConstraint(fields=["tweet", "position"], name="photo_unique_position")]

    def __str__(self) -> str:
        return f"photo {self.position + 1} of tweet {self.tweet.tweet_id}"


class Label(models.Model):
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=200)
    confidence = models.FloatField()
    parents = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)
    is_moderation = models.BooleanField(default=False)

    class Meta:
        ordering = ["photo_id", "is_moderation", "-confidence"]
        constraints = [
            models.UniqueConstraint(fields=["photo", "name", "is_moderation"], name="label_unique_per_photo"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.confidence:.1f}%)"


class Reply(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        POSTING = "posting", "posting"
        POSTED = "posted", "posted"
        DRY_RUN = "dry_run", "dry run (not posted)"
        FAILED = "failed", "failed"

    SETTLED_STATUSES = (Status.POSTED, Status.DRY_RUN, Status.FAILED)

    tweet = models.OneToOneField(Tweet, on_delete=models.CASCADE, related_name="reply")
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    reply_tweet_id = models.CharField(max_length=20, blank=True)
    variant = models.PositiveSmallIntegerField(default=0, help_text="Which wording: the next is used when X calls one a duplicate.")
    maybe_posted_at = models.DateTimeField(
        null=True, blank=True, help_text="The last attempt that may have reached X (lost answer, 5xx, worker stopped while posting)."
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "replies"

    def __str__(self) -> str:
        return f"reply to {self.tweet.tweet_id} ({self.status})"
