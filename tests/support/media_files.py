"""Small real files of the types overlay media uploads take, made in code."""

from __future__ import annotations

import io
import struct
import wave
import zlib


def png(padding: int = 0) -> bytes:
    """A 1x1 red PNG; ``padding`` bytes of a text chunk make it larger."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    extra = chunk(b"tEXt", b"c\x00" + b"x" * padding) if padding else b""
    pixels = chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff"))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + pixels + chunk(b"IEND", b"")


def wav(seconds: float = 0.1) -> bytes:
    """Silence as a 8 kHz mono 16-bit WAV."""
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * int(8000 * seconds))
    return out.getvalue()


# an MPEG-1 layer III frame header (128 kbit/s, 44.1 kHz) and a frame's worth of bytes
MP3 = b"\xff\xfb\x90\x64" + b"\x00" * 413
OGG = b"OggS\x00\x02" + b"\x00" * 200
