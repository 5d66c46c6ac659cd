"""Replace the comments of an Ogg Vorbis file (``LOOPSTART``, ``LOOPLENGTH``, ...).

libsndfile encodes Vorbis but writes no custom comments, so the comment
header (the stream's second packet) is rebuilt here and the header pages
re-paginated: the identification page is kept, the comment and setup
packets are laced onto new pages that end with the setup packet (the first
audio packet starts a fresh page, as the Vorbis I spec requires), and every
following page keeps its bytes but takes its new sequence number and CRC.
Written from the Ogg (RFC 3533) and Vorbis I specifications.
"""

from __future__ import annotations

import struct
from pathlib import Path

_CAPTURE = b"OggS"
_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, type, granule, serial, sequence, crc, segments
_CONTINUED = 0x01
_NO_GRANULE = -1


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum: CRC-32, polynomial 0x04c11db7, initial 0, no reflection, no final xor."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[(crc >> 24) ^ byte]
    return crc


def _pages(data: bytes) -> list[tuple[tuple, bytes, list[int], int]]:
    """Every page as (header fields, body, segment lengths, byte offset of the next page)."""
    pages, at = [], 0
    while at < len(data):
        fields = _HEADER.unpack_from(data, at)
        if fields[0] != _CAPTURE or fields[1] != 0:
            raise ValueError(f"not an Ogg page at byte {at}")
        n = fields[7]
        lacing = list(data[at + _HEADER.size : at + _HEADER.size + n])
        start = at + _HEADER.size + n
        at = start + sum(lacing)
        pages.append((fields, data[start:at], lacing, at))
    return pages


def _page(kind: int, granule: int, serial: int, sequence: int, lacing: list[int], body: bytes) -> bytes:
    head = _HEADER.pack(_CAPTURE, 0, kind, granule, serial, sequence, 0, len(lacing)) + bytes(lacing)
    page = head + body
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def comment_packet(vendor: bytes, comments: dict[str, str]) -> bytes:
    """A Vorbis comment header: vendor string, ``KEY=value`` pairs (UTF-8) and the framing bit."""
    out = b"\x03vorbis" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    for key, value in comments.items():
        if not key or "=" in key or not all(0x20 <= ord(c) <= 0x7D for c in key):
            raise ValueError(f"{key!r} can't be a Vorbis comment name")
        entry = f"{key}={value}".encode()
        out += struct.pack("<I", len(entry)) + entry
    return out + b"\x01"


def _lace(packets: list[bytes]) -> list[tuple[list[int], bytes, bool, bool]]:
    """Pages (lacing, body, continues a packet, a packet ends here) for ``packets``, at most 255 segments each."""
    segments: list[tuple[int, bool]] = []  # (length, ends its packet)
    for packet in packets:
        n = len(packet)
        segments += [(255, False)] * (n // 255) + [(n % 255, True)]
    data = b"".join(packets)
    pages, at, continued = [], 0, False
    for first in range(0, len(segments), 255):
        chunk = segments[first : first + 255]
        size = sum(s for s, _ in chunk)
        pages.append(([s for s, _ in chunk], data[at : at + size], continued, any(e for _, e in chunk)))
        at += size
        continued = not chunk[-1][1]
    return pages


def set_vorbis_comments(path: Path, comments: dict[str, str]) -> None:
    """Rewrite the Ogg Vorbis file at ``path`` in place with ``comments`` as its only comments."""
    data = Path(path).read_bytes()
    pages = _pages(data)
    # The three header packets: identification (alone on the first page), comment, setup.
    packets, current, header_pages = [], b"", 0
    for fields, body, lacing, _ in pages:
        header_pages += 1
        at = 0
        for size in lacing:
            current += body[at : at + size]
            at += size
            if size < 255:
                packets.append(current)
                current = b""
        if header_pages == 1 and len(packets) != 1:
            break
        if len(packets) >= 3:
            break
    if len(packets) != 3 or not packets[1].startswith(b"\x03vorbis") or current:
        raise ValueError(f"{path}: not the three Vorbis header packets, alone on their pages")
    (vendor_length,) = struct.unpack_from("<I", packets[1], 7)
    vendor = packets[1][11 : 11 + vendor_length]
    first = pages[0][0]
    serial = first[4]
    out = [data[: pages[0][3]]]
    for lacing, body, continued, ends in _lace([comment_packet(vendor, comments), packets[2]]):
        out.append(_page(_CONTINUED if continued else 0, 0 if ends else _NO_GRANULE, serial, len(out), lacing, body))
    if len(out) == header_pages:  # the audio pages keep their numbers, so their bytes
        out.append(data[pages[header_pages - 1][3] :])
    else:
        out += [_page(fields[2], fields[3], serial, len(out) + i, lacing, body)
                for i, (fields, body, lacing, _) in enumerate(pages[header_pages:])]
    Path(path).write_bytes(b"".join(out))


__all__ = ["comment_packet", "ogg_crc", "set_vorbis_comments"]
