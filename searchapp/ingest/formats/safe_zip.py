"""Reading members of a zip-based document (Office, OpenDocument, EPUB) within limits.

A document file is at most ``decoding.DEFAULT_MAX_BYTES`` on disk, but a zip member can inflate
to far more (a zip bomb). Only the members an extractor asks for are read, each checked against
``ZipLimits`` before it is inflated (its declared size and compression ratio) and while it is
(the bytes actually inflated, which is what counts when the declared size lies). XML members are
parsed with the standard library's expat parser, which loads no external entities; a member that
declares entities of its own is refused, so entity expansion cannot blow up either.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree

from searchapp.ingest.decoding import NotTextError

READ_BLOCK = 1024 * 1024  # members are inflated this much at a time
# Expat 2.4+ also limits entity amplification, but Python may be linked to an older system expat.
_ENTITY_DECLARATIONS = tuple(
    "<!ENTITY".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be")
)


@dataclass(frozen=True)
class ZipLimits:
    """What one zip-based document may hold.

    The defaults are far above real documents (a 500-page Word file's ``document.xml`` is some
    10-20 MB, compressed about 10:1) and far below what would exhaust memory.
    """

    max_members: int = 10_000  # entries in the archive (an EPUB has a few hundred at most)
    max_member_bytes: int = 128 * 1024 * 1024  # one member, inflated
    max_total_bytes: int = 256 * 1024 * 1024  # all members read from one archive, inflated
    max_ratio: int = 100  # inflated / compressed size, for members over ratio_floor_bytes
    ratio_floor_bytes: int = 1024 * 1024  # smaller members may compress at any ratio

    def __post_init__(self) -> None:
        for name in (
            "max_members",
            "max_member_bytes",
            "max_total_bytes",
            "max_ratio",
            "ratio_floor_bytes",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} ({value!r}) must be an integer >= 1")


DEFAULT_ZIP_LIMITS = ZipLimits()


class SafeZip:
    """A zip archive in memory whose members are read within ``limits``.

    Raises ``NotTextError`` for an archive that cannot be opened. The member count is checked on
    the first read, so an archive that is no document (never read) is not called a zip bomb.
    """

    def __init__(self, data: bytes, *, limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> None:
        self.limits = limits
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise NotTextError(f"damaged zip archive ({exc}); repair or re-save it") from None
        self._infos = {info.filename: info for info in infos}
        self._members = len(infos)
        self._read_bytes = 0

    def has(self, name: str) -> bool:
        return name in self._infos

    def read(self, name: str) -> bytes:
        """The inflated bytes of a member; ``NotTextError`` when it is missing, damaged or over
        a limit."""
        limits = self.limits
        if self._members > limits.max_members:
            raise NotTextError(
                f"zip archive with {self._members:,} members (more than the "
                f"{limits.max_members:,} limit); not read, as a possible zip bomb"
            )
        info = self._infos.get(name)
        if info is None:
            raise NotTextError(f"damaged document: the zip member {name!r} is missing")
        if info.file_size > limits.max_member_bytes:
            raise NotTextError(
                f"zip member {name!r} would inflate to {_size(info.file_size)} (more than the "
                f"{_size(limits.max_member_bytes)} limit); not read, as a possible zip bomb"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise NotTextError(
                f"zip member {name!r} would inflate {ratio:,.0f} times (more than the "
                f"{limits.max_ratio}:1 limit); not read, as a possible zip bomb"
            )
        budget = min(limits.max_member_bytes, limits.max_total_bytes - self._read_bytes)
        blocks: list[bytes] = []
        got = 0
        try:
            with self._zip.open(info) as member:
                while block := member.read(min(READ_BLOCK, budget + 1 - got)):
                    blocks.append(block)
                    got += len(block)
                    if got > budget:
                        raise NotTextError(
                            f"zip member {name!r} inflates past its declared size and the "
                            f"{_size(budget)} left to read; not read, as a possible zip bomb"
                        )
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
            raise NotTextError(
                f"damaged zip member {name!r} ({exc}); repair or re-save it"
            ) from None
        except RuntimeError as exc:  # zipfile's word for an encrypted member
            raise NotTextError(f"encrypted zip member {name!r} ({exc}); not indexed") from None
        self._read_bytes += got
        return b"".join(blocks)

    def read_xml(self, name: str) -> ElementTree.Element:
        """A member parsed as XML; ``NotTextError`` when it is not well-formed or declares
        entities."""
        return parse_xml(self.read(name), name)


# Tags ("<") one XML member may hold: each element parsed takes ~150 bytes, and 129 MB of
# "<p/>" within the zip limits made 30 million of them (3.3 GB). A 500-page Word file's
# document.xml holds well under a million.
MAX_XML_TAGS = 4_000_000


def parse_xml(data: bytes, name: str) -> ElementTree.Element:
    """Parse an XML document from a zip member named ``name`` (for messages)."""
    if any(mark in data for mark in _ENTITY_DECLARATIONS):
        raise NotTextError(f"{name!r} declares XML entities, which documents never need; not read")
    if (tags := data.count(b"<")) > MAX_XML_TAGS:
        raise NotTextError(
            f"{name!r} holds {tags:,} XML tags, past the {MAX_XML_TAGS:,} a document is read "
            "with (it would take gigabytes of memory); not read"
        )
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise NotTextError(f"damaged XML in {name!r} ({exc}); repair or re-save it") from None


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"
