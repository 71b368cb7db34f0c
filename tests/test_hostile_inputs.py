"""The decoder refuses hostile files with an error naming the problem, within bounded memory."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from PIL import Image

from course_utils.data.bit_depth import _chunk, png_significant_bits
from course_utils.deployment.inputs import MAX_PIXELS, InvalidImageError, decode, prepare_image
from course_utils.deployment.service import status_for
from tests.hostile_files import (
    corpus,
    encoded,
    jpeg_with_orientation,
    png_header_only,
    twelve_bit_png,
)

CORPUS = corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_hostile_file_gets_a_clear_4xx_error(name):
    with pytest.raises(InvalidImageError) as caught:
        prepare_image(CORPUS[name], channels=1, size=28, name=name)
    assert str(caught.value).startswith(f"{name}: ")
    assert 400 <= status_for(caught.value) < 500
    if name in ("eps.png", "icon.ico", "pcx.png", "tga.png"):  # formats Pillow reads but we refuse
        assert "accepted format" in str(caught.value)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    resource = pytest.importorskip("resource")  # not on Windows
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1e6 if sys.platform == "darwin" else 1024)


def test_a_tiny_file_declaring_a_huge_image_is_refused_before_decoding():
    before = peak_rss_mb()
    start = time.perf_counter()
    for side in (9000, 20000):
        with pytest.raises(InvalidImageError, match="has too many pixels"):
            decode(png_header_only(side, side), name=f"bomb-{side}.png")
    assert time.perf_counter() - start < 1.0
    assert peak_rss_mb() - before < 50  # decoding 9000 x 9000 would need 81 MB at the very least
    assert 9000 * 9000 > MAX_PIXELS >= 4000 * 4000


def test_large_real_images_are_decoded_at_the_models_scale():
    rng = np.random.default_rng(0)
    photo = encoded(Image.fromarray(rng.integers(0, 255, (3000, 2000, 3), dtype=np.uint8)), "JPEG")
    deep = encoded(Image.fromarray(rng.integers(0, 4096, (3000, 3000)).astype(np.uint16)), "PNG")
    for data in (photo, deep):
        small = decode(data, target=28)
        assert 56 <= min(small.shape[1:]) < 120  # at least twice the model's side, far from 3000
        assert prepare_image(data, channels=1, size=28).shape == (1, 28, 28)
    assert decode(photo).shape == (3, 3000, 2000)  # without a target: the full image


def test_sbit_is_read_as_the_png_standard_means_it():
    """sBIT = 12 with samples scaled to the full 16-bit range (as the standard, and pypng, write
    them) must not be divided by 4095: the image would turn white."""
    values = (np.linspace(0, 4095, 1024).reshape(32, 32).astype(np.uint16) << 4)  # 12-bit, scaled up
    data = encoded(Image.fromarray(values), "PNG")
    data = data[:33] + _chunk(b"sBIT", bytes([12])) + data[33:]
    image = decode(data)
    assert png_significant_bits(data) == 12
    assert image.float().mean().item() == pytest.approx(127.5, abs=2)  # not white, not black


def test_a_12_bit_x_ray_in_a_16_bit_png_keeps_its_brightness():
    for with_sbit in (False, True):
        data = twelve_bit_png(with_sbit=with_sbit)
        image = decode(data)
        assert image.max().item() == 255 and image.float().mean().item() == pytest.approx(127.5, abs=2)
    assert png_significant_bits(twelve_bit_png(with_sbit=True)) == 12
    assert png_significant_bits(twelve_bit_png(with_sbit=False)) is None
    full_range = np.linspace(0, 65535, 1024).reshape(32, 32).astype(np.uint16)  # a true 16-bit image
    assert decode(encoded(Image.fromarray(full_range), "PNG")).max().item() == 255


def test_exif_orientation_is_applied():
    raw = jpeg_with_orientation(width=40, height=20, orientation=6)
    image = decode(raw)[0]
    assert image.shape == (40, 20)            # rotated upright: portrait, as the phone showed it
    assert image[:10].float().mean() > 200     # the white band on the left is now at the top
    plain = decode(jpeg_with_orientation(width=40, height=20, orientation=1))[0]
    assert plain.shape == (20, 40) and plain[:, :10].float().mean() > 200


def test_ordinary_uploads_still_decode():
    for fmt in ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF"):
        data = encoded(Image.new("L", (64, 48), 100), fmt)
        assert decode(data, name=f"ok.{fmt.lower()}").shape[1:] == (48, 64), fmt  # WEBP stores grey as RGB
