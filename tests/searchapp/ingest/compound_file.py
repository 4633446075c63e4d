"""Compound files (OLE2, as Outlook's ``.msg`` and Word 97's ``.doc`` are) written for tests.

Only what a reader needs: version 3 (512-byte sectors), streams under 4,096 bytes in the mini
stream as the format requires, the rest in sectors of their own, one FAT of at most 109
sectors, storages' children chained by their right siblings.
"""

from __future__ import annotations

import struct

SECTOR, MINI_SECTOR, MINI_CUTOFF = 512, 64, 4096
FREE, END, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A compound file holding ``streams``, each named by its path ("storage/stream")."""
    entries: list[dict] = [{"name": "Root Entry", "kind": 5, "children": [], "data": b""}]
    at = {(): 0}
    for path, data in streams.items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            key = tuple(parts[:depth])
            if key not in at:
                at[key] = len(entries)
                entries.append({"name": parts[depth - 1], "kind": 1, "children": [], "data": b""})
                entries[at[key[:-1]]]["children"].append(at[key])
        entries[at[tuple(parts[:-1])]]["children"].append(len(entries))
        entries.append({"name": parts[-1], "kind": 2, "children": [], "data": data})

    mini, mini_fat = bytearray(), []
    for entry in entries:
        if entry["kind"] == 2 and len(entry["data"]) < MINI_CUTOFF:
            count = -(-len(entry["data"]) // MINI_SECTOR)
            first = len(mini) // MINI_SECTOR
            entry["start"] = first if count else END
            mini_fat += [*range(first + 1, first + count), END] if count else []
            mini += entry["data"].ljust(count * MINI_SECTOR, b"\0")

    sectors: list[bytes] = []
    fat: list[int] = []

    def place(data: bytes) -> int:
        count = -(-len(data) // SECTOR)
        if not count:
            return END
        first = len(sectors)
        for n in range(count):
            sectors.append(data[n * SECTOR : (n + 1) * SECTOR].ljust(SECTOR, b"\0"))
            fat.append(first + n + 1 if n < count - 1 else END)
        return first

    for entry in entries:
        if entry["kind"] == 2 and len(entry["data"]) >= MINI_CUTOFF:
            entry["start"] = place(entry["data"])
    entries[0]["start"] = place(bytes(mini))
    entries[0]["data"] = bytes(mini)
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat)
    mini_fat_start = place(mini_fat_bytes) if mini_fat else END

    siblings: dict[int, int] = {}
    for entry in entries:
        kids = entry["children"]
        entry["child"] = kids[0] if kids else NO_STREAM
        siblings.update(zip(kids, kids[1:]))
    directory = b"".join(
        _entry(entry, siblings.get(n, NO_STREAM)) for n, entry in enumerate(entries)
    )
    directory += _empty_entry() * (-len(entries) % (SECTOR // 128))
    directory_start = place(directory)

    fat_count = 1
    while len(sectors) + fat_count > fat_count * (SECTOR // 4):
        fat_count += 1
    fat_start = len(sectors)
    fat += [FAT_SECTOR] * fat_count
    fat += [FREE] * (fat_count * SECTOR // 4 - len(fat))
    table = struct.pack(f"<{len(fat)}I", *fat)
    sectors += [table[n * SECTOR : (n + 1) * SECTOR] for n in range(fat_count)]

    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        MAGIC,
        b"\0" * 16,
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"\0" * 6,
        0,
        fat_count,
        directory_start,
        0,
        MINI_CUTOFF,
        mini_fat_start,
        -(-len(mini_fat_bytes) // SECTOR),
        END,
        0,
    )
    difat = [*range(fat_start, fat_start + fat_count)]
    header += struct.pack("<109I", *difat, *[FREE] * (109 - len(difat)))
    return header + b"".join(sectors)


def _entry(entry: dict, right: int) -> bytes:
    name = entry["name"].encode("utf-16-le") + b"\0\0"
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        name,
        len(name),
        entry["kind"],
        1,  # black
        NO_STREAM,
        right,
        entry["child"],
        b"\0" * 16,
        0,
        0,
        0,
        entry.get("start", 0) if entry["kind"] != 1 else 0,
        len(entry["data"]),
    )


def _empty_entry() -> bytes:
    return struct.pack(
        "<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NO_STREAM, NO_STREAM, NO_STREAM, b"", 0, 0, 0, 0, 0
    )


def outlook_message(**fields) -> bytes:
    """An Outlook ``.msg`` file of ``message_streams(**fields)``."""
    return compound_file(message_streams(**fields))


def message_streams(
    *,
    subject: str,
    body: str | None = None,
    html: bytes | None = None,
    rtf: bytes | None = None,
    sender: tuple[str, str] = ("James Park", "james@firm.example"),
    to: str = "Ada Okafor",
    sent_filetime: int | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    forwarded: tuple[dict[str, bytes], ...] = (),
    eight_bit: tuple[int, str] | None = None,
    header: int = 32,
) -> dict[str, bytes]:
    """An Outlook message's properties as streams; ``attachments`` (name, MIME type, bytes);
    ``forwarded``: messages attached whole (each ``message_streams(..., header=24)``);
    ``eight_bit`` (code page, subject): the subject written in that code page."""

    def text(tag: str, value: str) -> tuple[str, bytes]:
        return f"__substg1.0_{tag}001F", value.encode("utf-16-le")

    streams = dict([text("0C1A", sender[0]), text("5D01", sender[1]), text("0E04", to)])
    fixed = b"\0" * header
    if eight_bit is None:
        streams.update([text("0037", subject)])
    else:
        codepage, written = eight_bit
        streams["__substg1.0_0037001E"] = written.encode(f"cp{codepage}")
        fixed += struct.pack("<IIi4x", 0x3FFD0003, 6, codepage)
    if body is not None:
        streams.update([text("1000", body)])
    if html is not None:
        streams["__substg1.0_10130102"] = html
    if rtf is not None:  # PR_RTF_COMPRESSED, already compressed
        streams["__substg1.0_10090102"] = rtf
    if sent_filetime is not None:
        fixed += struct.pack("<IIQ", 0x00390040, 6, sent_filetime)
    streams["__properties_version1.0"] = fixed
    for n, (name, mime, data) in enumerate(attachments):
        storage = f"__attach_version1.0_#{n:08X}"
        streams[f"{storage}/__substg1.0_3707001F"] = name.encode("utf-16-le")
        streams[f"{storage}/__substg1.0_370E001F"] = mime.encode("utf-16-le")
        streams[f"{storage}/__substg1.0_37010102"] = data
        streams[f"{storage}/__properties_version1.0"] = b"\0" * 8
    for n, inner in enumerate(forwarded, start=len(attachments)):
        storage = f"__attach_version1.0_#{n:08X}"
        streams[f"{storage}/__substg1.0_3001001F"] = "Forwarded.msg".encode("utf-16-le")
        streams[f"{storage}/__properties_version1.0"] = b"\0" * 8
        for name, data in inner.items():
            streams[f"{storage}/__substg1.0_3701000D/{name}"] = data
    return streams
