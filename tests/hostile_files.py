"""A fixed corpus of hostile and odd image files, for the decoder and the service tests."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from course_utils.data.bit_depth import PNG_SIGNATURE, _chunk


def png_header_only(width: int, height: int, bit_depth: int = 8, colour: int = 0) -> bytes:
    """A PNG that declares ``width x height`` but holds a few bytes of pixels: a tiny upload
    whose decoding would allocate the full size (the "tiny file, huge image" attack)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def twelve_bit_png(size: int = 32, with_sbit: bool = False) -> bytes:
    """A 12-bit gradient saved as a 16-bit PNG (values 0..4095), optionally with its sBIT chunk."""
    values = (np.linspace(0, 4095, size * size).reshape(size, size)).astype(np.uint16)
    data = encoded(Image.fromarray(values), "PNG")
    if with_sbit:  # insert sBIT = 12 right after IHDR (8-byte signature + 25-byte IHDR chunk)
        data = data[:33] + _chunk(b"sBIT", bytes([12])) + data[33:]
    return data


def jpeg_with_orientation(width: int = 40, height: int = 20, orientation: int = 6) -> bytes:
    """A JPEG whose EXIF says to rotate it (6: 90 degrees clockwise), as phones write them."""
    image = Image.new("L", (width, height), 0)
    image.paste(255, (0, 0, width // 4, height))  # a white band on the left, to see where it goes
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encoded(image, "JPEG", exif=exif.tobytes(), quality=95)


def corpus() -> dict[str, bytes]:
    """name -> bytes of files a decoder must refuse with a clear error (never crash on)."""
    good = encoded(Image.new("L", (64, 64), 128), "PNG")
    jpeg = encoded(Image.new("RGB", (64, 64), (10, 200, 30)), "JPEG")
    rng = np.random.default_rng(0)
    return {
        "random.png": rng.bytes(2000),
        "text.png": b"patient notes, not an image\n" * 20,
        "eps.png": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        "icon.ico": encoded(Image.new("RGB", (32, 32)), "ICO"),
        "pcx.png": encoded(Image.new("L", (64, 64)), "PCX"),
        "tga.png": encoded(Image.new("L", (64, 64)), "TGA"),
        "half.png": good[: len(good) // 2],
        "header.png": good[:40],
        "bad-crc.png": good[:40] + bytes(b ^ 0xFF for b in good[40:60]) + good[60:],
        "half.jpg": jpeg[: len(jpeg) // 2],
        "jpeg-magic.jpg": b"\xff\xd8\xff\xe0" + rng.bytes(500),
        "gif-magic.gif": b"GIF89a" + rng.bytes(100),
        "bmp-magic.bmp": b"BM" + rng.bytes(100),
        "tiff-magic.tif": b"II*\0" + rng.bytes(100),
        "bomb-9000.png": png_header_only(9000, 9000),
        "bomb-20000.png": png_header_only(20000, 20000),
        "bomb-16bit.png": png_header_only(12000, 12000, bit_depth=16),
        "wide.png": png_header_only(1_000_000, 1),
        "zero-size.png": png_header_only(0, 0),
    }
