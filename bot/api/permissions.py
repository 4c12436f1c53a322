"""Who may read the API: the admin's own view permissions, nothing new to learn or migrate.

A view names the permissions it needs (`required_permissions`); a user holds all of them
(a superuser holds every one), or gets a 403. Nobody anonymous gets further than a 401.
Staff status is not needed: a script's user can hold "Can view tweet" and the rest without
being able to log in to the admin. Deliveries are the exception: their bodies hold
everything X sent, so they are for staff who may view deliveries.

The API only reads: its viewsets have no write actions, so POST, PUT, PATCH and DELETE are
answered 405 whoever asks.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

# What a tweet's record shows: the tweet, its photos with their labels, and its reply.
TWEET_PERMISSIONS = ("bot.view_tweet", "bot.view_photo", "bot.view_label", "bot.view_reply")
LABEL_PERMISSIONS = ("bot.view_label",)
DELIVERY_PERMISSIONS = ("bot.view_delivery",)


class CanViewRecords(BasePermission):
    """An active user who holds every one of the view's `required_permissions` (and is staff where it says `staff_only`)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return False
        if getattr(view, "staff_only", False) and not user.is_staff:
            return False
        return user.has_perms(getattr(view, "required_permissions", TWEET_PERMISSIONS))
