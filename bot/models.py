"""What the bot records: every delivery, tweet, photo, label and reply.

Naming: X's ids are strings in fields named `x_id` (the row's own X id) or `<role>_x_id`,
so they never share a name with Django's foreign-key attributes (`photo.tweet_id` is the
Tweet row's primary key; `photo.tweet.x_id` is the tweet's id on X).

Statuses: each status field has its moves written once, as a table beside its `Status`
(`TRANSITIONS`, from -> to), and code changes a status only through `StatusQuerySet.move`,
a conditional update that refuses a move not in the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone


class InvalidTransition(ValueError):
    """A move that is not in the model's TRANSITIONS table: a bug in the caller."""


class StatusQuerySet(models.QuerySet):
    """Updates that keep the records honest.

    - `update()` stamps every `auto_now` field (`updated_at`), which Django's own
      QuerySet.update skips, unless the caller sets it;
    - `move(source, target)` is the only way a status changes: the rows still in `source`
      (one status or several) move to `target`, and the count says how many did, so a
      claim is taken by one worker only. `claim=True` also stamps `claimed_at`.
    """

    def update(self, **changes: Any) -> int:
        now = None
        for field in self.model._meta.concrete_fields:
            if getattr(field, "auto_now", False) and field.name not in changes:
                now = now or timezone.now()
                changes[field.name] = now
        return super().update(**changes)

    def move(self, source: str | Iterable[str], target: str, *, claim: bool = False, **changes: Any) -> int:
        sources = (source,) if isinstance(source, str) else tuple(source)
        table: dict[str, frozenset[str]] = self.model.TRANSITIONS
        refused = [status for status in sources if target not in table.get(status, frozenset())]
        if refused:
            raise InvalidTransition(f"{self.model.__name__}: {', '.join(refused)} -> {target} is not in TRANSITIONS")
        if claim:
            changes["claimed_at"] = changes["updated_at"] = timezone.now()
        return self.filter(status__in=sources).update(status=target, **changes)


StatusManager = models.Manager.from_queryset(StatusQuerySet)


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
    for_user_x_id = models.CharField(max_length=20, blank=True, help_text="The subscribed account X delivered it for.")
    event_kinds = models.JSONField(default=list, blank=True)
    # Not indexed: nothing looks a delivery up by it, and an index is one more page each webhook commit writes.
    event_uuid = models.CharField(max_length=200, blank=True, help_text="X Activity's id of this delivery of an event.")

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

    # Created as received (to be answered), skipped (kept with its reason) or deleted
    # (its deletion came first).
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.RECEIVED: frozenset(
            {
                Status.PROCESSING,  # a worker claims it
                Status.RECEIVED,  # the sweeper dispatches it again
                Status.FAILED,  # a permanent failure, or out of attempts
                Status.DELETED,  # the author deleted it
            }
        ),
        Status.PROCESSING: frozenset(
            {
                Status.SKIPPED,  # its author opted out before its photos were fetched
                Status.DONE,  # the reply is posted (or a dry run)
                Status.FAILED,  # the reply failed, a permanent failure, or out of attempts
                Status.RECEIVED,  # the sweeper reopens a stalled one
                Status.DELETED,
            }
        ),
        Status.SKIPPED: frozenset(
            {
                Status.RECEIVED,  # the bot's own copy of a tweet skipped for another account
                Status.DELETED,
            }
        ),
        Status.DONE: frozenset({Status.DELETED}),
        Status.FAILED: frozenset(
            {
                Status.DELETED,
                Status.RECEIVED,  # an operator re-runs it, or retries its failed reply (bot.services.console)
            }
        ),
        Status.DELETED: frozenset(),
    }
    # States the sweeper may pick up again; everything else is final.
    PENDING_STATUSES = (Status.RECEIVED, Status.PROCESSING)

    x_id = models.CharField("X id", max_length=20, unique=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="tweets")
    for_user_x_id = models.CharField(max_length=20, blank=True, help_text="The subscribed account X delivered it for.")
    author_x_id = models.CharField(max_length=20)
    author_username = models.CharField(max_length=50, blank=True)
    text = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    in_reply_to_x_id = models.CharField(max_length=20, blank=True)
    in_reply_to_user_x_id = models.CharField(max_length=20, blank=True)
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
    not_before = models.DateTimeField(null=True, blank=True, help_text="X's rate limit: the sweeper leaves the tweet alone until then.")
    photos_cleanup = models.BooleanField(
        default=False, help_text="Its stored photos are to go (settled without IMAGEBOT_KEEP_PHOTOS, or deleted)."
    )
    quoted_x_id = models.CharField(max_length=20, blank=True)
    media_lookup = models.BooleanField(
        default=False, help_text="Its photos (or those of the post it quotes or answers) are to be looked up on X before fetching."
    )
    photos_from_x_id = models.CharField(
        max_length=20, blank=True, help_text="The post whose photos are described, when not this one (it quotes or answers it)."
    )
    photos_from_username = models.CharField(max_length=50, blank=True, help_text="Who posted the photos described, when not the author.")
    is_trial = models.BooleanField(
        default=False, help_text="Uploaded on the console's try-a-photo page: never from X, never replied to on X."
    )

    objects = StatusManager()

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"tweet {self.x_id}"

    @property
    def url(self) -> str:
        return f"https://x.com/{self.author_username or 'i'}/status/{self.x_id}"


class Photo(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        STORED = "stored", "stored"
        RECOGNISING = "recognising", "recognising"
        RECOGNISED = "recognised", "recognised"
        FAILED = "failed", "failed"

    # Created pending (to be downloaded).
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.PENDING: frozenset(
            {
                Status.STORED,  # downloaded and saved
                Status.FAILED,  # not an image, too big, outside the allow-list; or given up
            }
        ),
        Status.STORED: frozenset(
            {
                Status.RECOGNISING,  # a worker claims it
                Status.PENDING,  # saving it failed: download it again
                Status.FAILED,  # its file was removed before recognition (the tweet settled, or was deleted)
            }
        ),
        Status.RECOGNISING: frozenset(
            {
                Status.RECOGNISED,
                Status.FAILED,  # the recogniser refused the image for good, or its file was removed
                Status.STORED,  # a temporary failure, or the sweeper reopens a stalled claim
                Status.PENDING,  # the stored file is gone: download it again
            }
        ),
        Status.RECOGNISED: frozenset(),
        Status.FAILED: frozenset({Status.PENDING}),  # an operator re-runs its tweet (bot.services.console)
    }
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
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last claimed it for recognition.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = StatusManager()

    class Meta:
        ordering = ["tweet_id", "position"]
        constraints = [models.UniqueConstraint(fields=["tweet", "position"], name="photo_unique_position")]

    def __str__(self) -> str:
        return f"photo {self.number} of tweet {self.tweet.x_id}"

    @property
    def number(self) -> int:
        """The photo's place in its tweet as people count: 1 to 4 (`position` counts from 0)."""
        return self.position + 1


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

    # Created pending.
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.PENDING: frozenset({Status.POSTING}),  # a worker claims it
        Status.POSTING: frozenset(
            {
                Status.POSTED,  # X answered with its id, or it was found on the bot's timeline
                Status.DRY_RUN,  # composed, recorded, not posted
                Status.FAILED,  # X refused it for good, or every wording was a duplicate
                Status.PENDING,  # a temporary failure, the next wording, or the sweeper reopens it
            }
        ),
        Status.POSTED: frozenset(),
        Status.DRY_RUN: frozenset({Status.PENDING}),  # an operator posts it for real (bot.services.console)
        Status.FAILED: frozenset({Status.PENDING}),  # an operator retries it (bot.services.console)
    }
    SETTLED_STATUSES = (Status.POSTED, Status.DRY_RUN, Status.FAILED)

    tweet = models.OneToOneField(Tweet, on_delete=models.CASCADE, related_name="reply")
    text = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    x_id = models.CharField("X id", max_length=20, blank=True, help_text="The posted reply's id on X.")
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

    objects = StatusManager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "replies"

    def __str__(self) -> str:
        return f"reply to {self.tweet.x_id} ({self.status})"


class OptOut(models.Model):
    """A person who asked the bot never to answer them ("stop"), until they opt back in ("start").

    One row per person, changed only by a newer post of theirs (X ids grow with time), so a
    "stop" and a "start" that arrive out of order end as the later one says.
    """

    author_x_id = models.CharField("X id", max_length=20, unique=True)
    author_username = models.CharField(max_length=50, blank=True)
    opted_out = models.BooleanField(default=True)
    word = models.CharField(max_length=40, help_text="What they wrote.")
    changed_by_x_id = models.CharField(max_length=20, help_text="The post that asked for it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = "opt-out"

    def __str__(self) -> str:
        return f"{self.author_username or self.author_x_id} ({'opted out' if self.opted_out else 'opted back in'})"


class ReplayJob(models.Model):
    """A replay X was asked for (POST /2/webhooks/replay): one runs at a time."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        COMPLETE = "complete", "complete"
        FAILED = "failed", "failed"

    # Created running, before X is asked.
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.RUNNING: frozenset(
            {
                Status.COMPLETE,  # X's replay_job_status event said so
                Status.FAILED,  # X refused it, said it failed, or never said it ended
            }
        ),
        Status.COMPLETE: frozenset(),
        Status.FAILED: frozenset(),
    }

    webhook_x_id = models.CharField(max_length=20)
    job_x_id = models.CharField("X job id", max_length=20, blank=True, db_index=True)
    from_at = models.DateTimeField()
    to_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StatusManager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=models.Q(status="running"), name="replay_one_running"),
        ]

    def __str__(self) -> str:
        return f"replay {self.job_x_id or self.pk} ({self.status})"


class ReconcileCursor(models.Model):
    """How far the reconcile has read the bot's mentions (GET /2/users/{id}/mentions).

    Every mention up to `since_x_id` has been read. A run cut short by its bound leaves
    `until_x_id`, the oldest it read: the next run reads on from there down to `since_x_id`.
    """

    account_x_id = models.CharField(max_length=20, unique=True)
    since_x_id = models.CharField(max_length=20, blank=True)
    until_x_id = models.CharField(max_length=20, blank=True)
    newest_x_id = models.CharField(max_length=20, blank=True, help_text="The newest mention read so far.")
    posts_read = models.PositiveBigIntegerField(default=0, help_text="Posts read in all (X bills each).")
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_summary = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"reconcile cursor for {self.account_x_id}"


class Webhook(models.Model):
    """A webhook registered for the app on X (GET /2/webhooks), and the bot account's
    Account Activity subscription to it. X is the truth: bot.services.webhooks syncs these rows."""

    x_id = models.CharField("X id", max_length=20, unique=True)
    url = models.URLField(max_length=500)
    valid = models.BooleanField(default=False, help_text="X's last word on its CRC check: an invalid webhook gets no deliveries.")
    x_created_at = models.DateTimeField("created on X", null=True, blank=True)
    subscribed = models.BooleanField(
        null=True, blank=True, help_text="Whether the bot account's activity is delivered to it (unknown until checked)."
    )
    subscription_checked_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True, help_text="When X last listed it.")
    invalid_since = models.DateTimeField(null=True, blank=True, help_text="When a sync first found X had marked it invalid.")
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-x_created_at", "-pk"]
        permissions = [("manage_webhooks", "Can register, re-check, delete webhooks and (un)subscribe the bot on X")]

    def __str__(self) -> str:
        return f"webhook {self.x_id} ({self.url})"


class RateBudget(models.Model):
    """What is left of one of X's rate-limit windows, as X last said, shared by every worker and process.

    bot.services.pacing hands out its calls one at a time (`remaining` counts down) and
    records every answer's x-rate-limit headers; `probe_until`: the window's state is
    unknown (none seen yet, or the last one ended) and one call is out to learn it.
    """

    endpoint = models.CharField(max_length=64, unique=True, help_text='The limited call, as "POST /2/tweets".')
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="Calls per window, as X last said.")
    remaining = models.PositiveIntegerField(default=0, help_text="Calls left in this window (handed out ones deducted).")
    resets_at = models.DateTimeField(null=True, blank=True, help_text="When X said the window ends.")
    probe_until = models.DateTimeField(null=True, blank=True, help_text="One call is out to learn the window; others wait until then.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "rate budget"

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.remaining} left until {self.resets_at}"
