"""Slack workspace exports (``formats/slack.py``): days as conversations, people as a list."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from searchapp.ingest.decoding import load_documents

SAM = {"real_name": "Sam Ortega", "display_name": "sam.o", "avatar_hash": "g1a2b3c4"}
T0 = 1_699_970_000.0  # 2023-11-14


def at(offset: float) -> str:
    return f"{T0 + offset:.6f}"


def hhmm(offset: float) -> str:
    return datetime.fromtimestamp(T0 + offset).strftime("%H:%M")


def blocks(text: str) -> list:
    return [{"type": "rich_text", "elements": [{"type": "text", "text": text}]}]


def make_export(root: Path) -> Path:
    """A workspace export of the layout Slack writes, one channel's day in it."""
    root.mkdir(parents=True)
    users = [
        {
            "id": "U01SAM",
            "name": "sam",
            "real_name": "Sam Ortega",
            "profile": {"title": "Senior PM", "email": "sam@acme.io", "avatar_hash": "x1"},
        },
        {
            "id": "U02PRIYA",
            "name": "priya",
            "profile": {"real_name": "Priya Nair", "phone": "+44 7700 900123"},
        },
        {"id": "U03LENA", "name": "lena", "real_name": "Lena Fischer", "deleted": True},
    ]
    (root / "users.json").write_text(json.dumps(users, indent=4))
    channels = [
        {
            "id": "C01",
            "name": "product",
            "created": 1609459200,
            "members": ["U01SAM", "U02PRIYA"],
            "topic": {"value": "Roadmap, specs, decisions"},
            "purpose": {"value": "Product team"},
        }
    ]
    (root / "channels.json").write_text(json.dumps(channels, indent=4))
    question = "Should we delay the <https://acme.io/pricing|pricing page> redesign, <@U02PRIYA>?"
    day = [
        {"type": "message", "subtype": "channel_join", "user": "U03LENA", "ts": at(0),
         "text": "<@U03LENA> has joined the channel"},
        {"type": "message", "user": "U01SAM", "ts": at(60), "user_profile": SAM,
         "text": question, "blocks": blocks(question), "thread_ts": at(60), "reply_count": 1,
         "client_msg_id": "726b66bb-5352"},
        {"type": "message", "user": "U03LENA", "ts": at(120),
         "text": "Q&amp;A at 3 in <#C01|product>, <!here>"},
        {"type": "message", "user": "U02PRIYA", "ts": at(180), "thread_ts": at(60),
         "parent_user_id": "U01SAM",
         "text": "Let's wait until after Black Friday.\nTraffic is too high before it.",
         "blocks": blocks("Let's wait until after Black Friday.")},
        {"type": "message", "subtype": "bot_message", "username": "Jira Cloud", "ts": at(240),
         "text": "", "attachments": [{"title": "PROD-12 Pricing page", "text": "moved to Done"}]},
        {"type": "message", "user": "U01SAM", "ts": at(300), "text": "Mock-ups:",
         "files": [{"id": "F1", "name": "pricing-v3.fig", "title": "Pricing v3"}]},
    ]  # fmt: skip
    (root / "product").mkdir()
    (root / "product" / "2023-11-14.json").write_text(json.dumps(day, indent=4))
    return root


def test_a_day_is_read_as_its_conversation_a_thread_under_its_question(tmp_path) -> None:
    # A product manager's trial: read as JSON every message was there twice (text and
    # blocks), passages were client_msg_id and avatar_hash, a mention read <@U01SAM999>, and a
    # reply stood apart from its question, so "what did Priya say" found the question.
    root = make_export(tmp_path / "Acme Slack export")
    path = root / "product" / "2023-11-14.json"
    [document] = load_documents(path)
    assert document.title == "#product 2023-11-14"
    assert document.text.split("\n") == [
        f"{hhmm(60)} Sam Ortega: Should we delay the pricing page (https://acme.io/pricing) "
        "redesign, @Priya Nair?",
        f"↳ {hhmm(180)} Priya Nair: Let's wait until after Black Friday.",
        "  Traffic is too high before it.",
        f"{hhmm(120)} Lena Fischer: Q&A at 3 in #product, @here",
        f"{hhmm(240)} Jira Cloud: PROD-12 Pricing page moved to Done",
        f"{hhmm(300)} Sam Ortega: Mock-ups: [file: pricing-v3.fig]",
        "",
    ]


def test_the_people_and_channels_are_lists_a_line_each(tmp_path) -> None:
    root = make_export(tmp_path / "export")
    [people] = load_documents(root / "users.json")
    assert people.text == (
        "Sam Ortega (@sam) · Senior PM · sam@acme.io\n"
        "Priya Nair (@priya) · +44 7700 900123\n"
        "Lena Fischer (@lena) · deactivated\n"
    )
    [channels] = load_documents(root / "channels.json")
    assert channels.text == "#product · topic: Roadmap, specs, decisions · purpose: Product team\n"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("2023-11-14.json", {"date": "2023-11-14", "steps": 9120}),  # a tracker's day
        ("2023-11-14.json", [{"date": "2023-11-14", "steps": 9120}]),
        ("2023-11-14.json", [1, 2, 3]),
        # A reviewer's: a log's records and another tool's people and channels were blanked.
        ("2023-11-14.json", [{"ts": 1699950000, "msg": "payment gateway timeout"}]),
        ("2023-11-14.json", [{"ts": "1699950000.000100", "level": "error", "msg": "timeout"}]),
        ("users.json", [{"id": 1, "name": "alice", "notes": "on call Tuesdays"}]),
        ("channels.json", [{"id": 7, "title": "Release train"}]),
    ],
)
def test_a_file_named_as_slack_names_its_files_that_is_none_is_read_as_it_is(
    tmp_path, name, content
) -> None:
    path = tmp_path / name
    path.write_text(json.dumps(content, indent=2))
    [document] = load_documents(path)
    assert document.text.strip() == json.dumps(content, indent=2)


def test_an_export_indexed_as_json_is_read_again_and_a_reply_is_found_with_its_question(
    tmp_path,
) -> None:
    from searchapp.ingest.formats import dispatch
    from searchapp.storage import schema
    from tests.searchapp.conftest import FakeEncoder
    from tests.searchapp.ingest.test_pipeline import make_index

    root = make_export(tmp_path / "docs" / "Acme Slack export")
    every = schema.MIGRATIONS
    with pytest.MonkeyPatch.context() as patch:  # indexed by the version before: JSON
        version = every.index(schema.m024_evernote_slack_and_keep_read)
        patch.setattr(schema, "MIGRATIONS", every[:version])
        patch.setattr(dispatch, "is_slack_file", lambda path: False)
        index = make_index(tmp_path / "idx", FakeEncoder(max_length=128))  # passages of lines
        index.add([tmp_path / "docs"])
        [hit] = index.search("wait until after black friday", k=1, mode="lexical")
        assert '"text": "Let\'s wait' in hit.text  # JSON, a copy of it in the blocks
        index.close()
    index = make_index(tmp_path / "idx", FakeEncoder(max_length=128))
    report = index.add([tmp_path / "docs"])
    assert report.updated == 3  # the day, the people, the channels
    [hit] = index.search("wait until after black friday", k=1, mode="lexical")
    assert hit.path == str(root / "product" / "2023-11-14.json")
    assert "Should we delay the pricing page" in hit.text  # the question, with its answer
    assert hit.text.count("Let's wait until after Black Friday.") == 1
    assert "client_msg_id" not in hit.text and "avatar_hash" not in hit.text


def test_apps_huddles_and_an_enterprise_grids_lists_are_read(tmp_path) -> None:
    # A second trial: PagerDuty's message (its text in its blocks alone) and a huddle were
    # dropped ("Acknowledged by Tomás Núñez" found nowhere); org_users.json and dms.json
    # were indexed as JSON, a bot's record the second hit for who acknowledged the incident.
    root = make_export(tmp_path / "grid")
    pagerduty = {
        "type": "message", "subtype": "bot_message", "username": "PagerDuty", "text": "",
        "ts": at(400), "bot_profile": {"name": "PagerDuty"},
        "blocks": [
            {"type": "section",
             "text": {"type": "mrkdwn", "text": "*Incident #4821* Checkout API latency"}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "Acknowledged by *Tomás Núñez* at 08:06 UTC"}]},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Resolve"}}]},
            {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
                {"type": "text", "text": "paging "}, {"type": "user", "user_id": "U02PRIYA"},
                {"type": "link", "url": "https://pd.example/4821", "text": "the runbook"}]}]},
        ],
    }  # fmt: skip
    huddle = {
        "type": "message", "subtype": "huddle_thread", "user": "U01SAM", "text": "", "ts": at(500),
        "room": {"id": "R0HUDDLE", "name": "Pricing sync", "participant_history": ["U01SAM"]},
    }  # fmt: skip
    (root / "incidents").mkdir()
    (root / "incidents" / "2023-11-14.json").write_text(json.dumps([pagerduty, huddle]))
    [day] = load_documents(root / "incidents" / "2023-11-14.json")
    assert day.text.split("\n") == [
        f"{hhmm(400)} PagerDuty: *Incident #4821* Checkout API latency Acknowledged by "
        "*Tomás Núñez* at 08:06 UTC paging @Priya Nair the runbook",
        f"{hhmm(500)} Sam Ortega: Huddle: Pricing sync",
        "",
    ]
    (root / "users.json").rename(root / "org_users.json")  # a Grid's list alone names them
    [people] = load_documents(root / "org_users.json")
    assert people.text.startswith("Sam Ortega (@sam) · Senior PM · sam@acme.io\n")
    [day] = load_documents(root / "incidents" / "2023-11-14.json")
    assert "paging @Priya Nair the runbook" in day.text and "Sam Ortega: Huddle" in day.text
    dms = [{"id": "D08SAMPRI", "created": 1699000000, "members": ["U01SAM", "U02PRIYA"]}]
    (root / "dms.json").write_text(json.dumps(dms))
    [listed] = load_documents(root / "dms.json")
    assert listed.text == "Direct messages D08SAMPRI: Sam Ortega, Priya Nair\n"
