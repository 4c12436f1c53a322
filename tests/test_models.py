"""The records' status machines: moves only through the table, timestamps that tell the truth."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from bot.models import InvalidTransition, Photo, ReplayJob, Reply, Tweet

ROOT = Path(__file__).resolve().parent.parent
MACHINES = {"Tweet": Tweet, "Photo": Photo, "Reply": Reply, "ReplayJob": ReplayJob}


def make_tweet(status: str = Tweet.Status.RECEIVED, x_id: str = "1600000000000000001") -> Tweet:
    return Tweet.objects.create(x_id=x_id, author_x_id="2", author_username="ana", status=status)


def reply_untouched_for_an_hour() -> tuple[Reply, object]:
    """A reply last updated an hour ago (set explicitly, as time passing would), and that time."""
    reply = Reply.objects.create(tweet=make_tweet(), text="Hi @ana.")
    Reply.objects.filter(pk=reply.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    return reply, Reply.objects.get(pk=reply.pk).updated_at


# --- The tables ------------------------------------------------------------------------


@pytest.mark.parametrize("model", MACHINES.values(), ids=MACHINES.keys())
def test_every_status_has_a_row_in_its_table_and_moves_only_to_known_statuses(model):
    assert set(model.TRANSITIONS) == set(model.Status.values)
    for targets in model.TRANSITIONS.values():
        assert targets <= set(model.Status.values)


@pytest.mark.parametrize(
    "model, final",
    # Failed photos and replies, and dry-run replies, have one way out: an operator's re-run,
    # retry or "post for real" from the console (bot.services.console).
    [(Tweet, {Tweet.Status.DELETED}), (Photo, {Photo.Status.RECOGNISED}), (Reply, {Reply.Status.POSTED})],
    ids=["Tweet", "Photo", "Reply"],
)
def test_final_statuses_have_no_way_out(model, final):
    assert {status for status, targets in model.TRANSITIONS.items() if not targets} == final


# --- The helper ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_move_not_in_the_table_is_refused_and_changes_nothing():
    tweet = make_tweet(Tweet.Status.DONE)
    with pytest.raises(InvalidTransition, match="done -> processing"):
        Tweet.objects.filter(pk=tweet.pk).move(Tweet.Status.DONE, Tweet.Status.PROCESSING)
    assert Tweet.objects.get(pk=tweet.pk).status == Tweet.Status.DONE


@pytest.mark.django_db
def test_one_source_outside_the_table_refuses_the_whole_move():
    tweet = make_tweet(Tweet.Status.RECEIVED)
    with pytest.raises(InvalidTransition, match="skipped -> processing"):
        Tweet.objects.filter(pk=tweet.pk).move((Tweet.Status.RECEIVED, Tweet.Status.SKIPPED), Tweet.Status.PROCESSING)
    assert Tweet.objects.get(pk=tweet.pk).status == Tweet.Status.RECEIVED


@pytest.mark.django_db
def test_a_move_is_conditional_on_the_current_status():
    tweet = make_tweet(Tweet.Status.PROCESSING)
    assert Tweet.objects.filter(pk=tweet.pk).move(Tweet.Status.RECEIVED, Tweet.Status.PROCESSING) == 0  # someone else has it
    assert Tweet.objects.filter(pk=tweet.pk).move((Tweet.Status.RECEIVED, Tweet.Status.PROCESSING), Tweet.Status.FAILED) == 1
    assert Tweet.objects.get(pk=tweet.pk).status == Tweet.Status.FAILED


@pytest.mark.django_db
def test_a_move_stamps_updated_at_and_carries_other_changes():
    reply, before = reply_untouched_for_an_hour()

    Reply.objects.filter(pk=reply.pk).move(Reply.Status.PENDING, Reply.Status.POSTING, last_error="x")

    reply.refresh_from_db()
    assert reply.updated_at > before + timedelta(minutes=59)
    assert (reply.status, reply.last_error) == (Reply.Status.POSTING, "x")


@pytest.mark.django_db
def test_a_plain_update_stamps_updated_at_too_unless_the_caller_sets_it():
    reply, before = reply_untouched_for_an_hour()

    Reply.objects.filter(pk=reply.pk).update(last_error="noted")
    assert Reply.objects.get(pk=reply.pk).updated_at > before + timedelta(minutes=59)

    chosen = timezone.now() - timedelta(days=2)
    Reply.objects.filter(pk=reply.pk).update(updated_at=chosen)
    assert Reply.objects.get(pk=reply.pk).updated_at == chosen


@pytest.mark.django_db
def test_a_claim_stamps_the_claim_time():
    tweet = make_tweet()
    photo = Photo.objects.create(tweet=tweet, position=0, source_url="https://pbs.twimg.com/media/a.jpg", status=Photo.Status.STORED)
    assert photo.claimed_at is None

    started = timezone.now()
    assert Photo.objects.filter(pk=photo.pk).move(Photo.Status.STORED, Photo.Status.RECOGNISING, claim=True) == 1

    photo.refresh_from_db()
    assert photo.status == Photo.Status.RECOGNISING and photo.claimed_at >= started
    assert photo.updated_at == photo.claimed_at


# --- The code makes only moves from the tables ------------------------------------------


def _bot_sources():
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(), filename=str(path))


def _resolve(node: ast.expr) -> tuple[str, tuple[str, ...]]:
    """`Tweet.Status.DONE`, `Tweet.PENDING_STATUSES` or a tuple of them: the model's name and the statuses."""
    if isinstance(node, ast.Tuple):
        names, statuses = zip(*(_resolve(element) for element in node.elts), strict=True)
        assert len(set(names)) == 1, ast.unparse(node)
        return names[0], tuple(status for group in statuses for status in group)
    text = ast.unparse(node)
    match = re.fullmatch(rf"({'|'.join(MACHINES)})\.(?:Status\.([A-Z_]+)|([A-Z_]+))", text)
    assert match, f"a status move names its statuses literally (Model.Status.X or Model.CONSTANT), not {text!r}"
    model = MACHINES[match.group(1)]
    value = getattr(model.Status, match.group(2)) if match.group(2) else getattr(model, match.group(3))
    return match.group(1), (value,) if isinstance(value, str) else tuple(value)


# Helpers that pass on a move their callers name: the callers' moves are read instead.
MOVE_HELPERS = {"tweet_settle"}


def _moves_in_code():
    """Every status move the code makes, read from its source: (where, model, sources, target)."""
    for path, tree in _bot_sources():
        helpers = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name in MOVE_HELPERS]
        inside_helpers = {id(inner) for helper in helpers for inner in ast.walk(helper)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in inside_helpers:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            if name == "move" and path.name != "models.py":
                source, target = node.args[:2]
            elif name == "tweet_settle" and "source" in keywords:
                source, target = keywords["source"], keywords["target"]
            else:
                continue
            model, sources = _resolve(source)
            target_model, (target_status,) = _resolve(target)
            assert model == target_model, where
            yield where, MACHINES[model], sources, target_status


def test_every_status_move_in_the_code_is_in_its_models_table():
    moves = list(_moves_in_code())
    assert len(moves) >= 20  # the reader found them: claims, settles, reopenings, deletions
    for where, model, sources, target in moves:
        for source in sources:
            assert target in model.TRANSITIONS[source], f"{where}: {model.__name__} {source} -> {target} is not in TRANSITIONS"


def test_every_move_in_the_tables_is_made_somewhere_in_the_code():
    made = {(model, source, target) for _, model, sources, target in _moves_in_code() for source in sources}
    for model in MACHINES.values():
        for source, targets in model.TRANSITIONS.items():
            for target in targets:
                assert (model, source, target) in made, f"{model.__name__} {source} -> {target} is in the table but the code never makes it"


def test_no_code_changes_a_status_except_through_move():
    for path, tree in _bot_sources():
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("update", "bulk_update"):
                keywords = {keyword.arg for keyword in node.keywords}
                fields = ast.unparse(node.args[1]) if node.func.attr == "bulk_update" and len(node.args) > 1 else ""
                inside_move = path.name == "models.py"
                assert inside_move or ("status" not in keywords and "status" not in fields), f"{where}: a status changed outside move()"
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    record = isinstance(target, ast.Attribute) and target.attr == "status" and ast.unparse(target.value) != "self"
                    assert not record, f"{where}: a status assigned outside move()"


# --- The README draws the same machines --------------------------------------------------


def test_the_readme_diagrams_match_the_tables():
    readme = (ROOT / "README.md").read_text()
    for name, model in MACHINES.items():
        block = re.search(rf"```mermaid\n---\ntitle: {name}\n---\nstateDiagram-v2\n(.*?)```", readme, re.S)
        assert block, f"README.md has no state diagram titled {name}"
        drawn = set(re.findall(r"^\s*(\w+) --> (\w+)", block.group(1), re.M))  # [*] (created as) is not a status
        table = {(source, target) for source, targets in model.TRANSITIONS.items() for target in targets}
        assert drawn == table, f"{name}: missing from the diagram {sorted(table - drawn)}, not in the table {sorted(drawn - table)}"


@pytest.mark.django_db
def test_the_migrations_describe_the_models_as_they_are():
    from django.core.management import call_command

    call_command("makemigrations", "bot", "--check", "--dry-run", verbosity=0)  # SystemExit(1) when a change has no migration
