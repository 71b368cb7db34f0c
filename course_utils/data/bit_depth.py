"""High-bit-depth images to 8 bits by the depth the file actually holds.

Medical images are often 10, 12 or 14 bits stored in a 16-bit container (PNG, TIFF). Scaling
by the container's 65535 turns a 12-bit X-ray nearly black (its brightest pixel becomes 16 of
255), and a model then answers confidently on a picture it never saw the like of. The depth
comes from the file where it says so (PNG's ``sBIT`` chunk, when the values fit it), otherwise
from the values: the smallest of 8, 10, 12, 14 or 16 bits whose range holds the brightest pixel.
That guess is per image: a data set from one detector should pass its depth explicitly
(``to_8_bits(values, bits=12)``), so that a scan with no bright pixel is not brightened.

>>> import numpy as np
>>> significant_bits_of(np.array([0, 1000, 4095]))
12
>>> to_8_bits(np.array([0, 4095], dtype=np.uint16), bits=12).tolist()
[0, 255]
>>> png_significant_bits(b"\\x89PNG\\r\\n\\x1a\\n" + _chunk(b"IHDR", bytes(13)) + _chunk(b"sBIT", bytes([12])))
12
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEPTHS = (8, 10, 12, 14, 16)


def significant_bits_of(values: np.ndarray) -> int:
    """The smallest common depth whose range (0 .. 2**bits - 1) holds every value."""
    brightest = int(np.max(values)) if values.size else 0
    return next((bits for bits in DEPTHS if brightest <= 2 ** bits - 1), 16)


def png_significant_bits(data: bytes) -> int | None:
    """The depth a PNG declares in its ``sBIT`` chunk (the largest over channels), or None.

    Only the chunks before the image data are read; anything that is not a well-formed PNG
    header gives None.
    """
    if not data.startswith(PNG_SIGNATURE):
        return None
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"sBIT":
            return max(body) if body and 1 <= max(body) <= 16 else None
        if kind in (b"IDAT", b"IEND") or len(body) < length:
            return None
        position += 12 + length
    return None


def to_8_bits(values: np.ndarray, bits: int | None = None) -> np.ndarray:
    """``values`` of a ``bits``-deep image (inferred when None) scaled to uint8, full range kept.

    The PNG standard says a file with ``sBIT`` has its samples scaled up to the container's full
    range; many exporters store the raw 0..4095 instead. So ``bits`` counts only when the values
    fit in it; values beyond it mean the file was scaled as the standard says (16 bits).

    >>> to_8_bits(np.array([0, 65535], dtype=np.uint16), bits=12).tolist()  # scaled as the spec says
    [0, 255]
    """
    if bits is None:
        bits = significant_bits_of(values)
    elif values.size and int(np.max(values)) > 2 ** bits - 1:
        bits = 16
    top = np.float32(2 ** bits - 1)
    return (values.astype(np.float32) * np.float32(255.0 / top)).round().clip(0, 255).astype(np.uint8)


def _chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk (for the examples and tests)."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
