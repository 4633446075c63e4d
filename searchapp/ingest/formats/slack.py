"""Slack workspace exports: a channel's day read as its conversation, the people as a list.

An export is a folder of JSON: ``users.json``, ``channels.json``, and a folder a channel of
one file a day (``product/2023-11-14.json``), each an array of messages. Read as JSON, every
message was there twice (its ``text`` and its ``blocks``), passages were mostly
``client_msg_id`` and ``avatar_hash``, a mention read ``<@U01SAM999>``, and a thread's reply
stood far from the question it answers (a product manager's trial). Read here: a message a line,
``14:25 Priya Nair: Let's wait until after Black Friday.``, its replies of the same day under
it, each ``↳``; mentions, channels and links as Slack shows them; an app's text in its blocks
alone (PagerDuty's), a huddle by its name; the files it shares by name. A channel's joins and
leaves are left out. ``users.json`` is read as who is who (a line a person:
name, handle, title, phone, e-mail), ``channels.json`` as each channel's name, topic and
purpose.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from searchapp.ingest.formats.spans import LocatedText

DAY_NAME = re.compile(r"\d{4}-\d\d-\d\d\.json")
USERS_NAME = "users.json"
PEOPLE_LISTS = frozenset({USERS_NAME, "org_users.json"})  # an Enterprise Grid's has both
CHANNEL_LISTS = frozenset({"channels.json", "groups.json", "mpims.json", "dms.json"})
_NOISE = frozenset({"channel_join", "channel_leave", "group_join", "group_leave"})
# What Slack writes in a message's text for what it shows: <@U123>, <#C123|general>,
# <!here>, <!subteam^S1|@design>, <https://x.io|the spec>, <mailto:a@b.io|a@b.io>.
_MARKUP = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")
MAX_USERS_BYTES = 64 * 1024 * 1024  # a workspace's users.json: larger is not one


def is_slack_file(path: Path) -> bool:
    """Whether ``path`` is named as a file of a Slack export is: a day of a channel, or the
    export's users or channels (told by content after: ``extract_slack``)."""
    name = path.name.lower()
    return bool(DAY_NAME.fullmatch(name)) or name in PEOPLE_LISTS or name in CHANNEL_LISTS


def extract_slack(text: str, path: Path) -> LocatedText | None:
    """The text of a Slack export's file; None where it is not one (a JSON file so named that
    holds something else: read as the JSON it is)."""
    if not text.lstrip().startswith("["):
        return None
    try:
        items = json.loads(text)
    except ValueError:
        return None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        return None
    name = path.name.lower()
    if DAY_NAME.fullmatch(name) and _is_day(items):
        return _day(items, path)
    if name in PEOPLE_LISTS and _are(items, ("id", "name"), ("profile",)):
        lines = "\n".join(filter(None, map(_person, items)))
        return LocatedText("", lines + "\n") if lines else None
    if name in CHANNEL_LISTS and _are(items, ("id",), ("created", "members")):
        names = _names(path.parent)
        lines = "\n".join(filter(None, (_channel(channel, names) for channel in items)))
        return LocatedText("", lines + "\n") if lines else None
    return None


_TS = re.compile(r"\d+\.\d+")  # a message's time stamp as Slack writes it: "1699970060.000200"


def _is_day(items: list[dict[str, Any]]) -> bool:
    """Whether ``items`` are a channel's messages of a day, as Slack writes them: each with its
    time stamp, a string of seconds and microseconds, and messages among them (not a log's
    or a tracker's records named by their day)."""
    stamps = [item.get("ts") for item in items]
    if not all(isinstance(ts, str) and _TS.fullmatch(ts) for ts in stamps):
        return False
    return any(item.get("type") == "message" for item in items)


def _are(items: list[dict[str, Any]], every: tuple[str, ...], some: tuple[str, ...]) -> bool:
    """Whether each of ``items`` has the keys ``every`` and one of them one of ``some``: what
    Slack's people and channels have (a profile; a channel's creation and members), not
    another tool's records so named."""
    return all(all(key in item for key in every) for item in items) and any(
        key in item for item in items for key in some
    )


def _day(messages: list[dict[str, Any]], path: Path) -> LocatedText:
    """A channel's day: its messages in order, a thread's replies of the day under the message
    that started it."""
    names = _names(path.parent.parent)
    replies: dict[str, list[dict[str, Any]]] = {}
    threads = {m.get("ts") for m in messages if _starts_thread(m)}
    kept = []
    for message in sorted(messages, key=_time):
        if message.get("subtype") in _NOISE:
            continue
        parent = message.get("thread_ts")
        if parent and parent != message.get("ts") and parent in threads:
            replies.setdefault(parent, []).append(message)
        else:
            kept.append(message)
    lines = []
    for message in kept:
        lines.append(_line(message, names, reply=bool(_is_reply(message))))
        lines += [_line(reply, names, reply=True) for reply in replies.get(message["ts"], [])]
    title = f"#{path.parent.name} {path.stem}"
    return LocatedText(title, "\n".join(line for line in lines if line) + "\n")


def _starts_thread(message: dict[str, Any]) -> bool:
    return message.get("thread_ts") in (None, message.get("ts")) or "reply_count" in message


def _is_reply(message: dict[str, Any]) -> bool:
    parent = message.get("thread_ts")
    return bool(parent) and parent != message.get("ts")


def _time(message: dict[str, Any]) -> float:
    try:
        return float(message.get("ts") or 0)
    except (TypeError, ValueError):
        return 0.0


def _line(message: dict[str, Any], names: dict[str, str], *, reply: bool) -> str:
    """A message as a line: its time, who wrote it and what, the files it shares named; its
    text's own lines after it, indented."""
    text = _readable(str(message.get("text") or ""), names)
    if not text:  # an app's message, its text in its blocks alone (PagerDuty's, GitHub's)
        joined = " ".join(_block_texts(message.get("blocks"), names))
        text = _readable(re.sub(r"[ \t]+", " ", joined), names)
    if not text and isinstance(room := message.get("room"), dict):  # a huddle
        text = " ".join(["Huddle:", str(room.get("name") or "")]).strip()
    if not text:  # a bot's message, its text in attachments
        text = " ".join(
            part
            for attachment in message.get("attachments") or []
            if isinstance(attachment, dict)
            for part in (
                attachment.get("title"),
                attachment.get("text") or attachment.get("fallback"),
            )
            if isinstance(part, str) and part.strip()
        )
        text = _readable(text, names)
    files = [
        str(f.get("name") or f.get("title"))
        for f in message.get("files") or []
        if isinstance(f, dict) and (f.get("name") or f.get("title"))
    ]
    if files:
        text = " ".join([text, *(f"[file: {name}]" for name in files)]).strip()
    if not text:
        return ""
    when = datetime.fromtimestamp(_time(message)).strftime("%H:%M") if _time(message) else ""
    first, *rest = text.split("\n")
    line = f"{when} {_author(message, names)}: {first}".lstrip()
    return "\n".join([f"↳ {line}" if reply else line, *(f"  {more}" for more in rest)])


_BLOCK_KINDS_SKIPPED = frozenset({"actions", "image", "divider", "input"})  # buttons, pictures


def _block_texts(blocks: Any, names: dict[str, str]) -> list[str]:
    """The texts of a message's blocks as Slack shows them: sections, headers, contexts, their
    fields, and rich text (its mentions, links and emoji); not buttons or images."""
    found: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict) or block.get("type") in _BLOCK_KINDS_SKIPPED:
            continue
        kind, text = block.get("type"), block.get("text")
        if isinstance(text, str) and kind in ("text", "mrkdwn", "plain_text"):
            found.append(text)
        elif isinstance(text, dict):
            found += _block_texts([text], names)
        if kind == "user" and isinstance(block.get("user_id"), str):
            found.append("@" + names.get(block["user_id"], block["user_id"]))
        elif kind == "link" and isinstance(block.get("url"), str):
            found.append(block.get("text") or block["url"])
        elif kind == "emoji" and isinstance(block.get("name"), str):
            found.append(f":{block['name']}:")
        for key in ("elements", "fields"):
            found += _block_texts(block.get(key), names)
    return [text for text in found if text.strip()]


def _author(message: dict[str, Any], names: dict[str, str]) -> str:
    profile = message.get("user_profile")
    if isinstance(profile, dict):
        name = profile.get("real_name") or profile.get("display_name") or profile.get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    user = message.get("user")
    if isinstance(user, str) and user in names:
        return names[user]
    bot = message.get("bot_profile")
    for name in (message.get("username"), bot.get("name") if isinstance(bot, dict) else None):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return str(user or "someone")


def _readable(text: str, names: dict[str, str]) -> str:
    """A message's text as Slack shows it: ``<@U123>`` as ``@Priya Nair``, ``<#C1|product>``
    as ``#product``, ``<!here>`` as ``@here``, a link by its label and address; ``&amp;``,
    ``&lt;`` and ``&gt;`` read."""

    def shown(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return "@" + (label or names.get(target) or target)
        if sigil == "#":
            return "#" + (label or target)
        if sigil == "!":
            named = label or target.split("^")[0]
            return named if named.startswith("@") else "@" + named
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_MARKUP.sub(shown, text)).strip()


@lru_cache(maxsize=64)
def _names_at(path: str, stamp: tuple[int, int]) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as file:
            users = json.load(file)
    except (OSError, ValueError):
        return {}
    if not isinstance(users, list):
        return {}
    return {
        user["id"]: name
        for user in users
        if isinstance(user, dict) and isinstance(user.get("id"), str) and (name := _name(user))
    }


def _names(folder: Path) -> dict[str, str]:
    """The people of the export in ``folder`` by their ids (its ``users.json``, and an
    Enterprise Grid's ``org_users.json``), {} where it has neither; each read once while it
    is as it was."""
    names: dict[str, str] = {}
    for listed in sorted(PEOPLE_LISTS, reverse=True):  # users.json's names last: they win
        try:
            stat = (folder / listed).stat()
        except OSError:
            continue
        if stat.st_size <= MAX_USERS_BYTES:
            names.update(_names_at(str(folder / listed), (stat.st_mtime_ns, stat.st_size)))
    return names


def _name(user: dict[str, Any]) -> str:
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    for name in (user.get("real_name"), profile.get("real_name"), profile.get("display_name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return str(user.get("name") or "")


def _person(user: dict[str, Any]) -> str:
    """A person of ``users.json`` as a line: name (@handle), then title, phone and e-mail."""
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    name = _name(user)
    if not name:
        return ""
    handle = user.get("name")
    parts = [f"{name} (@{handle})" if handle and handle != name else name]
    for key in ("title", "phone", "email"):
        value = profile.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    if user.get("deleted"):
        parts.append("deactivated")
    return " · ".join(parts)


def _channel(channel: dict[str, Any], names: dict[str, str]) -> str:
    """A channel of ``channels.json`` as a line: #name, then its topic and purpose; a direct
    message's (``dms.json``: no name) as its folder's id and the people in it."""
    name = channel.get("name")
    members = channel.get("members") if isinstance(channel.get("members"), list) else []
    if (not isinstance(name, str) or not name) and members:
        people = ", ".join(names.get(m, str(m)) for m in members)
        return f"Direct messages {channel.get('id')}: {people}"
    if not isinstance(name, str) or not name:
        return ""
    parts = [f"#{name}"]
    for key in ("topic", "purpose"):
        value = channel.get(key)
        value = value.get("value") if isinstance(value, dict) else value
        if isinstance(value, str) and value.strip():
            parts.append(f"{key}: {' '.join(value.split())}")
    if channel.get("is_archived"):
        parts.append("archived")
    return " · ".join(parts)
