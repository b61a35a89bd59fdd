"""Test material for crew registration: a synthetic ID card around a real face photo (the
face_recognition sdist photos of tests/fixtures/faces.py), live frames, documents, workbooks, and a
face service whose LIVENESS judgement is stood in for (photos cannot blink) while everything else —
detection, quality, encodings, the 人证 distance, 1:N — is the real engine."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from backend.face.service import FaceService, LivenessResult
from tests.fixtures.faces import capture_like_image, face_box, face_images, jpeg_bytes

PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


def id_card_front(face: str = "obama.jpg", *, face_px: int = 150) -> bytes:
    """An 856×540 "ID card" (portrait side) with the face of ``face`` at the right, face box about
    ``face_px`` wide — as a tablet photo of a real card would show it."""
    t, r, b, left = face_box(face)
    src = ImageOps.exif_transpose(Image.open(face_images()[face])).convert("RGB")
    s = face_px / max(1, r - left)
    w, h = r - left, b - t
    crop = src.crop((max(0, int(left - 0.5 * w)), max(0, int(t - 0.7 * h)), int(r + 0.5 * w), int(b + 0.6 * h)))
    crop = crop.resize((max(1, round(crop.width * s)), max(1, round(crop.height * s))), Image.Resampling.LANCZOS)
    card = Image.new("RGB", (856, 540), (236, 240, 246))
    d = ImageDraw.Draw(card)
    for i, y in enumerate(range(70, 400, 55)):  # "printed" text lines
        d.rectangle((60, y, 60 + 300 - i * 25, y + 18), fill=(60, 60, 70))
    d.rectangle((60, 450, 560, 475), fill=(40, 40, 50))
    card.paste(crop, (856 - crop.width - 50, 60))
    return jpeg_bytes(card, quality=92)


def id_card_back() -> bytes:
    card = Image.new("RGB", (856, 540), (230, 236, 244))
    d = ImageDraw.Draw(card)
    d.ellipse((60, 50, 200, 190), outline=(200, 40, 40), width=8)
    for y in (380, 440):
        d.rectangle((260, y, 700, y + 20), fill=(60, 60, 70))
    return jpeg_bytes(card)


def blank_card() -> bytes:
    return jpeg_bytes(Image.new("RGB", (856, 540), (236, 240, 246)))


def live_frames(face: str = "obama.jpg", n: int = 4) -> list[bytes]:
    """``n`` capture-like frames (480×640, face 210 px) that are not byte-identical."""
    im, _ = capture_like_image(face)
    return [jpeg_bytes(im.rotate(0, translate=(i, i % 2)), quality=86 + i) for i in range(n)]


def png_document() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (800, 1100), (250, 250, 250)).save(buf, "PNG")
    return buf.getvalue()


_NOT_LIVENESS = ("face_mismatch", "multiple_faces", "no_face", "different_faces", "no_good_frame")


class CameraStandIn:
    """The real FaceService, except that the ACTION part of liveness is taken as passed (the test
    photos cannot blink or turn).  Quality, identity and matching stay real."""

    def __init__(self, real: FaceService) -> None:
        self.real = real  # the app's face service (``AppServices.face``) the handler handed to the seam

    async def encode(self, *a: Any, **kw: Any) -> Any:
        return await self.real.encode(*a, **kw)

    async def verify(self, *a: Any, **kw: Any) -> Any:
        return await self.real.verify(*a, **kw)

    async def check_liveness(self, *a: Any, **kw: Any) -> LivenessResult:
        r = await self.real.check_liveness(*a, **kw)
        kept = tuple(c for c in r.reasons if c in _NOT_LIVENESS)
        return dataclasses.replace(r, passed=not kept, reasons=kept)


def id_fields(id_number: str, name: str = "测试工人", *, valid_years: int = 20, start: date | None = None,
              **extra: Any) -> dict[str, str]:
    start = start or date.today() - timedelta(days=400)
    until = start.replace(year=start.year + valid_years)
    out = {"id_number": id_number, "name": name, "ethnicity": "01", "address": "广东省江门市蓬江区测试路 1 号",
           "issuer": "江门市公安局蓬江分局", "id_valid_from": start.isoformat(), "id_valid_until": until.isoformat()}
    out.update({k: str(v) for k, v in extra.items()})
    return out


def workbook(rows: Iterable[dict[str, Any]], *, text_ids: bool = True) -> bytes:
    """An import workbook with the template's header row."""
    from openpyxl import Workbook

    from backend.crew.xlsx import COLUMNS

    wb = Workbook()
    ws = wb.active
    ws.append([c.header + ("*" if c.required else "") for c in COLUMNS])
    for r in rows:
        ws.append([r.get(c.key) for c in COLUMNS])
    if text_ids:
        for row in ws.iter_rows(min_row=2):
            row[1].number_format = "@"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def give_consent(client: Any, h: dict[str, str], project: int, rid: int) -> None:
    """The tablet's consent step (单独同意, issue 20 B.1) for the person of registration ``rid``: no selfie and
    no face without it."""
    reg = await client.get(f"/api/projects/{project}/crew/registrations/{rid}", headers=h)
    assert reg.status_code == 200, reg.text
    r = await client.post(f"/api/privacy/people/{reg.json()['person']}/consent", headers=h, json={
        "action": "given", "channel": "tablet", "version": "2026-12", "project_id": project})
    assert r.status_code == 201, r.text
