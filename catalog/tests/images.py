"""Images made in memory for the photo tests (Pillow-drawn: no files shipped)."""

from __future__ import annotations

from io import BytesIO

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageDraw


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (1200, 800), *, mode: str = "RGB", **save) -> bytes:
    image = Image.new(mode, size, (40, 90, 160) if mode == "RGB" else None)
    if mode in ("RGB", "RGBA"):
        ImageDraw.Draw(image).rectangle((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(240, 200, 40))
    out = BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def gps_exif(*, orientation: int | None = None) -> bytes:
    """EXIF with a GPS position (Lisbon), a camera serial number and optionally an orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.BodySerialNumber] = "SN-123456"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (38.0, 42.0, 0.0),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (9.0, 8.0, 0.0),
    }
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    return exif.tobytes()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_bomb(side: int = 8_000) -> bytes:
    """A small PNG (kilobytes) of side x side pixels: 64 megapixels once decoded, over the limit."""
    out = BytesIO()
    Image.new("1", (side, side)).save(out, "PNG", optimize=True)
    return out.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A 60-byte PNG whose header claims width x height pixels (the pixel data is a stub)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
