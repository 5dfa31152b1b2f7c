"""Regenerate the tiny test images in this folder (run once; the outputs are committed).

    .venv/bin/python tests/data/images/make_images.py

Every file is a few hundred bytes; what each one holds and what reading it must give is
asserted in tests/neural/test_images.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height 1-bit grey pixels, with almost no data.

    Opening it reads only the header, so it stands for a decompression bomb without being one.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00"))
        + _png_chunk(b"IEND", b"")
    )


def main() -> None:
    # 24 x 16 solid RGB (200, 100, 50).
    Image.new("RGB", (24, 16), (200, 100, 50)).save(HERE / "solid_rgb.png")
    # Fully transparent red: must read as white.
    Image.new("RGBA", (16, 16), (255, 0, 0, 0)).save(HERE / "rgba_transparent.png")
    # Black at alpha 128 over white: 255 * (255 - 128) / 255 = 127.
    Image.new("RGBA", (16, 16), (0, 0, 0, 128)).save(HERE / "rgba_half.png")
    # Palette image, every pixel index 1 = (10, 20, 30).
    pal = Image.new("P", (16, 16), 1)
    pal.putpalette([0, 0, 0, 10, 20, 30])
    pal.save(HERE / "palette.png")
    # Same, with index 1 transparent (tRNS chunk): must read as white.
    pal.save(HERE / "palette_transparent.png", transparency=1)
    # 8-bit greyscale 64.
    Image.new("L", (16, 16), 64).save(HERE / "grey.png")
    # 16-bit greyscale 25700 = 100 * 257: must read as 100.
    Image.fromarray(np.full((16, 16), 25700, dtype=np.uint16)).save(HERE / "grey16.png")
    # CMYK (0, 128, 255, 0), lossless TIFF: Pillow's conversion gives RGB (255, 127, 0).
    Image.new("CMYK", (16, 16), (0, 128, 255, 0)).save(HERE / "cmyk.tif")
    # 32 x 16 JPEG stored sideways: left half black, right half white, EXIF orientation 6
    # ("rotate 90 degrees clockwise to display"). Upright it is 16 x 32, black above white.
    side = np.zeros((16, 32, 3), dtype=np.uint8)
    side[:, 16:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(side).save(HERE / "exif_rotated.jpg", quality=95, exif=exif)
    # A JPEG cut in half: the header reads, the pixel data does not.
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    (HERE / "truncated.jpg").write_bytes(data[: len(data) // 2])
    # A PNG whose compressed pixel data is overwritten with garbage.
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buf, "PNG")
    broken = bytearray(buf.getvalue())
    idat = broken.index(b"IDAT") + 4
    broken[idat : idat + 10] = b"garbage!!!"
    (HERE / "corrupt.png").write_bytes(bytes(broken))
    # Text with an image extension.
    (HERE / "not_an_image.jpg").write_text("this is not a JPEG\n", encoding="utf-8")
    # Headers claiming 9000 x 9000 (81 megapixels, over neco's 64 MP default but under
    # Pillow's ~89 MP warning) and 20000 x 20000 (over Pillow's own hard limit).
    (HERE / "huge_header.png").write_bytes(_png_header_only(9000, 9000))
    (HERE / "bomb_header.png").write_bytes(_png_header_only(20000, 20000))


if __name__ == "__main__":
    main()
