"""bot.admin.optouts: who opted out, opted out or back in by an operator through bot.services.opting."""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bot import services
from bot.models import OptOut
from bot.services.opting import optout_set

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:bot_optout_changelist")
CREATE = reverse("admin:bot_optout_create")
ANA = "1500000000000000002"
BOB = "1500000000000000003"


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _staff(client, *codenames: str) -> User:
    staff = User.objects.create_user("operator", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    return staff


def test_the_list_shows_who_opted_out_and_back_in(admin_client):
    services.optout_create(ANA, username="ana", by_x_id="1600000000000000001")
    optout_set(BOB, opted_out=False, word="start", by_x_id="1600000000000000002", username="bob")

    page = admin_client.get(PAGE).content.decode()
    row = admin_client.get(reverse("admin:bot_optout_change", args=[OptOut.objects.get(author_x_id=ANA).pk]))

    assert ANA in page and "ana" in page and "opted out" in page and "by an operator" in page and "1600000000000000001" in page
    assert "opted back in" in page and "start" in page
    assert ANA not in admin_client.get(PAGE, {"opted_out__exact": "0"}).content.decode()
    assert BOB not in admin_client.get(PAGE, {"q": "ana"}).content.decode()
    assert row.status_code == 200 and 'name="word"' not in row.content.decode()  # read only


def test_an_operator_opts_someone_out_and_back_in(admin_client):
    created = admin_client.post(CREATE, {"author_x_id": ANA, "username": "ana"}, follow=True)

    assert any(f"X user {ANA} is opted out" in m for m in _messages(created))
    row = OptOut.objects.get(author_x_id=ANA)
    assert row.opted_out and row.word == "by an operator" and row.author_username == "ana" and services.author_opted_out(ANA)

    back = admin_client.post(PAGE, {"action": "opt_back_in", "_selected_action": [row.pk]}, follow=True)

    assert any(f"Opted back in: 1 ({ANA})" in m for m in _messages(back))
    assert not OptOut.objects.exists() and not services.author_opted_out(ANA)


def test_a_bad_id_is_refused_in_plain_words(admin_client):
    response = admin_client.post(CREATE, {"author_x_id": "@ana"}, follow=True)

    assert any("Not opted out" in m and "an X user id" in m for m in _messages(response)) and not OptOut.objects.exists()


def test_rows_are_never_typed_in_changed_or_deleted_by_hand(admin_client):
    services.optout_create(ANA)
    row = OptOut.objects.get()

    assert admin_client.get(reverse("admin:bot_optout_add")).status_code == 403
    admin_client.post(reverse("admin:bot_optout_change", args=[row.pk]), {"opted_out": "", "word": "forged"})
    assert admin_client.post(reverse("admin:bot_optout_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert row.opted_out and row.word == "by an operator"
    assert admin_client.get(CREATE).status_code == 405


def test_staff_with_the_view_permission_only_can_look_but_not_change(client):
    services.optout_create(ANA)
    _staff(client, "view_optout")

    page = client.get(PAGE)
    create = client.post(CREATE, {"author_x_id": BOB})
    action = client.post(PAGE, {"action": "opt_back_in", "_selected_action": [OptOut.objects.get().pk]})

    assert page.status_code == 200 and ANA in page.content.decode() and "Opt back in" not in page.content.decode()
    assert create.status_code == 403 and action.status_code in (200, 302)  # Django refuses an action the user may not run
    assert list(OptOut.objects.values_list("author_x_id", flat=True)) == [ANA]


def test_staff_with_the_change_permission_opt_people_out(client):
    _staff(client, "view_optout", "change_optout")

    assert client.post(CREATE, {"author_x_id": BOB}).status_code == 302 and services.author_opted_out(BOB)
    assert "Opt back in" in client.get(PAGE).content.decode()


def test_anonymous_and_non_staff_users_get_nothing(client):
    for user in (None, User.objects.create_user("someone", password="pw")):
        if user:
            client.force_login(user)
        for response in (client.get(PAGE), client.post(CREATE, {"author_x_id": ANA})):
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not OptOut.objects.exists()


def test_the_list_reads_a_fixed_number_of_queries(admin_client):
    services.optout_create(ANA)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(PAGE)
    for n in range(10):
        services.optout_create(f"15000000000000001{n:02d}")
    with CaptureQueriesContext(connection) as many:
        admin_client.get(PAGE)

    assert len(many) == len(few)
