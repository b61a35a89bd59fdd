"""Optional OCR of the ID card to prefill the form.

Uses the ``tesseract`` command with Chinese data when it is installed (Debian:
``apt-get install tesseract-ocr tesseract-ocr-chi-sim``) — no Python package is needed, nothing is
downloaded, and without it ``available()`` is False and the form is simply typed.  OCR only
PREFILLS: every value still goes through the same checks as a typed one, and the foreman sees and
corrects the fields before submitting.  The parsers are pure and tested without tesseract.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache

_TIMEOUT_S = 20.0


@lru_cache(maxsize=1)
def available() -> bool:
    exe = shutil.which("tesseract")
    if not exe:
        return False
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "chi_sim" in (out.stdout + out.stderr).split()


async def _tesseract(data: bytes) -> str:
    exe = shutil.which("tesseract")
    if not exe:
        return ""
    fd, path = tempfile.mkstemp(suffix=".img")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        proc = await asyncio.create_subprocess_exec(
            exe, path, "stdout", "-l", "chi_sim+eng", "--psm", "6",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), _TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return ""
        return out.decode("utf-8", "replace")
    finally:
        os.unlink(path)


def _squash(text: str) -> str:
    return re.sub(r"[ \t\u3000]+", "", text)


def parse_front_text(text: str) -> dict[str, str]:
    """Fields of the portrait side (姓名 性别 民族 出生 住址 公民身份号码) from OCR text."""
    out: dict[str, str] = {}
    lines = [_squash(x) for x in text.splitlines() if x.strip()]
    flat = "\n".join(lines)
    m = re.search(r"(\d{6}(?:19|20)\d{2}[01]\d[0-3]\d{4}[\dXx])", flat.replace("\n", ""))
    if m:
        out["id_number"] = m.group(1).upper()
    m = re.search(r"姓名([^\n\d]{1,20})", flat)
    if m:
        out["name"] = m.group(1).strip()
    m = re.search(r"性别([男女])", flat)
    if m:
        out["gender"] = "M" if m.group(1) == "男" else "F"
    m = re.search(r"民族([\u4e00-\u9fff]{1,6})", flat)
    if m:
        out["ethnicity"] = m.group(1)
    m = re.search(r"出生(\d{4})年(\d{1,2})月(\d{1,2})日", flat)
    if m:
        out["birth_date"] = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    addr: list[str] = []
    taking = False
    for line in lines:
        if line.startswith("住址"):
            taking = True
            line = line[2:]
        elif taking and ("公民身份" in line or re.search(r"\d{17}", line)):
            break
        if taking and line:
            addr.append(line)
    if addr:
        out["address"] = "".join(addr)[:200]
    return out


def parse_back_text(text: str) -> dict[str, str]:
    """签发机关 and 有效期限 of the national-emblem side."""
    out: dict[str, str] = {}
    flat = "\n".join(_squash(x) for x in text.splitlines() if x.strip())
    m = re.search(r"签发机关([^\n]{2,40})", flat)
    if m:
        out["issuer"] = m.group(1)
    m = re.search(r"(\d{4})[.\-](\d{2})[.\-](\d{2})[-—–至~](?:(\d{4})[.\-](\d{2})[.\-](\d{2})|(长期))", flat)
    if m:
        out["id_valid_from"] = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
        if m.group(7):
            out["id_long_term"] = "1"
        else:
            out["id_valid_until"] = f"{m.group(4)}-{m.group(5)}-{m.group(6)}"
    return out


async def read_card(front: bytes | None, back: bytes | None) -> dict[str, str]:
    """Prefill values from the photographed card; {} when OCR is not installed or reads nothing."""
    if not available():
        return {}
    out: dict[str, str] = {}
    if front:
        out.update(parse_front_text(await _tesseract(front)))
    if back:
        out.update(parse_back_text(await _tesseract(back)))
    return out
