"""Security issue items 3, 4, 12: uploaded files are parsed bounded and off the event loop.

Each test builds the attack file in memory (small on the wire) and shows it refused with a message naming
the limit, or shows the worker process machinery (``backend.bounded``) holding its caps:
3  an .xlsx holding a 1 GB shared string (1 MB zipped), a sheet reaching row 20,000,000, a declared
   dimension of 20 M rows or thousands of columns, a zip whose directory lies about a member's size;
4  a KMZ of 96 k placemarks, a KMZ bomb, and /health answering while a heavy fence file is parsed;
12 a UTF-16 KML carrying a DTD and an entity;
and the worker: killed on its time cap (CPU and memory released) and replaced, its memory cap, and its
death when the server process dies.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import random
import re
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import login

pytestmark = pytest.mark.integration

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------------------------------------- zip kit


def _zip(members: list[tuple[str, bytes, int, int, bytes]]) -> bytes:
    """A zip written by hand: (name, raw deflate stream, crc32, declared unpacked size, _) per member —
    zipfile cannot store a stream it did not compress, and the bombs need exactly that."""
    out = io.BytesIO()
    central = []
    for name, stream, crc, size, _ in members:
        offset = out.tell()
        fname = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(stream), size, len(fname), 0))
        out.write(fname)
        out.write(stream)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(stream), size,
                                   len(fname), 0, 0, 0, 0, 0, offset) + fname)
    start = out.tell()
    for c in central:
        out.write(c)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()


def _deflated(name: str, data: bytes) -> tuple[str, bytes, int, int, bytes]:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return name, c.compress(data) + c.flush(), zlib.crc32(data), len(data), b""


def _repeated(name: str, prefix: bytes, chunk: bytes, times: int, suffix: bytes) -> tuple[str, bytes, int, int, bytes]:
    """``prefix + chunk * times + suffix`` deflated without ever holding it: after a full flush the
    compressor starts afresh, so the chunk's compressed block can simply be repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH) == block
    tail = c.compress(suffix) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    return name, head + block * times + tail, crc, len(prefix) + len(chunk) * times + len(suffix), b""


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _workbook(world: Any) -> bytes:
    """A one-person import workbook with the template's header row."""
    from datetime import date, timedelta

    from openpyxl import Workbook

    from backend.crew.xlsx import COLUMNS

    person = {"name": "边界测试", "id_number": world.id_number(), "ethnicity": "汉族", "team": "钢筋班组",
              "work_role": "建筑工人", "work_type": "钢筋工", "id_valid_from": "2020-01-01",
              "id_valid_until": "2040-01-01", "entered_on": (date.today() - timedelta(days=1)).isoformat()}
    wb = Workbook()
    ws = wb.active
    ws.append([c.header + ("*" if c.required else "") for c in COLUMNS])
    ws.append([person.get(c.key) for c in COLUMNS])
    ws["B2"].number_format = "@"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _patched_sheet(world: Any, patch: Any) -> bytes:
    """The template workbook with its first sheet's XML rewritten by ``patch``."""
    members = [(n, patch(d) if n == "xl/worksheets/sheet1.xml" else d) for n, d in _members(_workbook(world))]
    return _zip([_deflated(n, d) for n, d in members])


async def _import(client: Any, h: dict[str, str], project: int, data: bytes) -> Any:
    return await client.post(f"/api/projects/{project}/crew/import", headers=h,
                             files={"file": ("people.xlsx", data, _XLSX)})


async def _job(client: Any, h: dict[str, str], project: int, r: Any) -> dict[str, Any]:
    assert r.status_code == 202, r.text
    for _ in range(600):
        s = (await client.get(f"/api/projects/{project}/crew/import/{r.json()['job_id']}", headers=h)).json()
        if s["finished"]:
            return s
        await asyncio.sleep(0.05)
    raise AssertionError("import did not finish")


# ---------------------------------------------------------------------------------------------- item 3: xlsx


async def test_xlsx_with_a_1gb_shared_string_is_refused_before_unpacking(client, world):
    h = await login(client, world.users["foreman_a"])
    members = [(n, d) for n, d in _members(_workbook(world)) if n != "xl/sharedStrings.xml"]
    bomb = _repeated("xl/sharedStrings.xml",
                     b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
                     b'uniqueCount="1"><si><t>', b"A" * (1 << 20), 1024, b"</t></si></sst>")
    data = _zip([*(_deflated(n, d) for n, d in members), bomb])
    assert len(data) < 1_500_000 and bomb[3] > 1 << 30  # ~1 MB on the wire, 1 GB unpacked
    r = await _import(client, h, world.project_a, data)
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["code"] == "unpacked_too_large" and "解压后过大" in body["message"]
    assert "sharedStrings" in body["message_en"] and "limit" in body["message_en"]


async def test_xlsx_zip_that_lies_about_a_member_size_is_cut_at_the_declared_size(client, world):
    h = await login(client, world.users["foreman_a"])
    members = _members(_workbook(world))
    sheet = dict(members)["xl/worksheets/sheet1.xml"]
    head, tail = sheet.split(b"<sheetData>")
    # the sheet padded with 256 MB of blanks between elements; the directory claims 4 KB more than the head
    name, stream, crc, _, _ = _repeated("xl/worksheets/sheet1.xml", head, b" " * (1 << 20), 256, b"<sheetData>" + tail)
    liar = (name, stream, crc, len(head) + 4096, b"")
    others = [_deflated(n, d) for n, d in members if n != name]
    s = await _job(client, h, world.project_a, await _import(client, h, world.project_a, _zip([*others, liar])))
    assert s["status"] == "failed" and s["errors"][0]["code"] == "bad_xlsx"


async def test_xlsx_with_a_row_at_20_million_stops_at_the_row_cap(client, world):
    from backend.rules import Rules

    h = await login(client, world.users["foreman_a"])

    def far_row(xml: bytes) -> bytes:  # 183 KB files of this kind took 99 s of CPU
        xml = re.sub(rb"<dimension [^>]*/>", b"", xml)
        return xml.replace(b"</sheetData>", b'<row r="20000000"/></sheetData>')

    r = await _import(client, h, world.project_a, _patched_sheet(world, far_row))
    s = await _job(client, h, world.project_a, r)
    assert s["status"] == "failed" and s["imported"] == 0
    err = s["errors"][0]
    assert err["code"] == "too_many_rows" and f"{Rules().crew_import_max_sheet_rows}" in err["message"]


async def test_xlsx_declaring_20_million_rows_is_refused_at_upload(client, world):
    h = await login(client, world.users["foreman_a"])
    data = _patched_sheet(world, lambda xml: re.sub(rb"<dimension [^>]*/>", b'<dimension ref="A1:P20000000"/>',
                                                    xml))
    r = await _import(client, h, world.project_a, data)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "too_many_rows" and "20000000" in r.json()["message"]


async def test_xlsx_declaring_thousands_of_columns_is_refused_at_upload(client, world):
    h = await login(client, world.users["foreman_a"])
    data = _patched_sheet(world, lambda xml: re.sub(rb"<dimension [^>]*/>", b'<dimension ref="A1:XFD2"/>', xml))
    r = await _import(client, h, world.project_a, data)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "too_many_columns" and "16384" in r.json()["message"]


async def test_xlsx_within_the_limits_still_imports_row_by_row(client, world):
    h = await login(client, world.users["foreman_a"])
    # a stray cell far to the right is ignored (column cap), the import stays all-or-nothing with row errors
    data = _patched_sheet(world, lambda xml: re.sub(rb"<dimension [^>]*/>", b"", xml).replace(
        b"</row></sheetData>", b'<c r="ZZ2" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'))
    s = await _job(client, h, world.project_a, await _import(client, h, world.project_a, data))
    assert s["status"] == "done", s["errors"]


# ---------------------------------------------------------------------------------------------- item 4: fences


def _kmz(kml: bytes, name: str = "doc.kml") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, kml)
    return buf.getvalue()


async def _fence_import(client: Any, h: dict[str, str], project: int, name: str, data: bytes, **form: str) -> Any:
    return await client.post(f"/api/projects/{project}/fences/import", headers=h, files={"file": (name, data)},
                             data={"preview": "1", **form})


async def test_kmz_with_96k_placemarks_is_refused(client, world):
    from backend.rules import Rules

    h = await login(client, world.users["admin"])
    # as reported: 96 k identical placemarks, 77 KB zipped — the directory already shows the ratio
    pm = b"<Placemark><Point><coordinates>113.01,22.64</coordinates></Point></Placemark>"
    data = _kmz(b'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>' + pm * 96_000 + b"</Document></kml>")
    assert len(data) < 100_000
    r = await _fence_import(client, h, world.project_a, "many.kmz", data)
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "compression_ratio" and "压缩比" in r.json()["message"]
    # 96 k distinct placemarks (an ordinary ratio): parsed in the worker, refused on the feature count
    rng = random.Random(4)
    pms = "".join(f"<Placemark><Point><coordinates>{113 + rng.random():.5f},{22 + rng.random():.5f}</coordinates>"
                  "</Point></Placemark>" for _ in range(96_000))
    data = _kmz(f'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>{pms}</Document></kml>'.encode())
    r = await _fence_import(client, h, world.project_a, "many.kmz", data)
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["code"] == "too_many_features" and "96000" in body["message"]
    assert f"{Rules().fence_import_max_features}" in body["message"]


async def test_kmz_bomb_is_refused_before_unpacking(client, world):
    h = await login(client, world.users["admin"])
    bomb = _repeated("doc.kml", b"<kml><!--", b" " * (1 << 20), 100, b"--></kml>")
    r = await _fence_import(client, h, world.project_a, "bomb.kmz", _zip([bomb]))
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "unpacked_too_large" and "解压后过大" in r.json()["message"]


async def test_kml_with_a_fence_of_200k_vertices_is_refused(client, world):
    h = await login(client, world.users["admin"])
    pts = " ".join(f"{113.0 + k * 1e-6:.6f},22.64" for k in range(200_000))
    kml = (f'<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><description>width 10</description>'
           f"<LineString><coordinates>{pts}</coordinates></LineString></Placemark></kml>").encode()
    r = await _fence_import(client, h, world.project_a, "long.kmz", _kmz(kml))
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "too_many_vertices" and "200000" in r.json()["message"]


async def test_utf16_kml_with_a_dtd_and_entity_is_refused(client, world):
    h = await login(client, world.users["admin"])
    kml = textwrap.dedent("""\
        <?xml version="1.0" encoding="UTF-16"?>
        <!DOCTYPE kml [<!ENTITY r "100"><!ENTITY a "&r;&r;&r;&r;&r;&r;&r;&r;">]>
        <kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&a;</name>
        <ExtendedData><Data name="radius_m"><value>&r;</value></Data></ExtendedData>
        <Point><coordinates>113.01,22.64</coordinates></Point></Placemark></kml>""")
    for enc in ("utf-16", "utf-16-le", "utf-16-be"):
        r = await _fence_import(client, h, world.project_a, "dtd.kml", kml.encode(enc))
        assert r.status_code == 400, (enc, r.text)
        assert r.json()["code"] == "invalid_kml" and "DTD" in r.json()["message"], enc
        r = await _fence_import(client, h, world.project_a, "dtd.kmz", _kmz(kml.encode(enc)))
        assert r.status_code == 400 and "DTD" in r.json()["message"], enc
    clean = re.sub(r"<!DOCTYPE[^\n]*\n", "", kml).replace("&a;", "围挡").replace("&r;", "100")
    r = await _fence_import(client, h, world.project_a, "ok.kml", clean.encode("utf-16"))
    assert r.status_code == 201 and r.json()["fences"][0]["feature"]["properties"]["radius_m"] == 100


def _heavy_kml(n: int = 200, vertices: int = 199) -> bytes:
    """Many fences of many vertices, within the limits: seconds of work (GCJ-02 is densified)."""
    pms = []
    for i in range(n):
        cx, cy = 113.0 + (i % 25) * 0.01, 22.6 + (i // 25) * 0.01
        pts = [f"{cx + 0.003 * math.cos(2 * math.pi * k / vertices):.6f},"
               f"{cy + 0.003 * math.sin(2 * math.pi * k / vertices):.6f}" for k in range(vertices)]
        pts.append(pts[0])
        pms.append(f"<Placemark><name>p{i}</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
                   f"{' '.join(pts)}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>")
    return ('<kml xmlns="http://www.opengis.net/kml/2.2"><Document>' + "".join(pms) + "</Document></kml>").encode()


async def test_health_answers_while_a_fence_file_is_being_parsed(client, world):
    from tests.integration.services_fixtures import services_of_client

    h = await login(client, world.users["admin"])
    runner = services_of_client(client).runner  # the app's parse workers
    data = _kmz(_heavy_kml())
    upload = asyncio.create_task(_fence_import(client, h, world.project_a, "heavy.kmz", data, crs="gcj02"))
    for _ in range(2000):  # the parse has reached a worker process (on the loop, this would never be seen)
        if runner.busy or upload.done():
            break
        await asyncio.sleep(0.005)
    assert runner.busy and not upload.done()
    health = await client.get("/health")
    assert health.status_code == 200
    assert not upload.done()  # /health answered while the parse was still running
    r = await upload
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 200


# ---------------------------------------------------------------------------------------------- the worker


def _gone(pid: int) -> bool:
    """Not running (a zombie waiting for a reaper counts as gone: it holds no CPU or memory)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def test_parse_over_its_time_cap_is_killed_and_replaced():
    from backend.bounded import BoundedRunner
    from backend.errors import PayloadTooLarge

    # builtins as the jobs: the worker needs no import, so the caps alone decide (no timing in the test)
    runner = BoundedRunner(memory_bytes=1024 * 1024 * 1024)
    try:
        first = await runner.run(os.getpid, timeout_s=60, what_zh="测试文件", what_en="test file")
        assert runner.idle_pids == [first]  # the warm worker takes the next job
        with pytest.raises(PayloadTooLarge) as exc:
            await runner.run(time.sleep, 3600, timeout_s=1.0, what_zh="测试文件", what_en="test file")
        assert exc.value.code == "parse_timeout" and "处理超时" in exc.value.zh and "1 s" in exc.value.en
        assert _gone(first)  # killed and reaped: its CPU and memory are released
        again = await runner.run(os.getpid, timeout_s=60, what_zh="测试文件", what_en="test file")
        assert again != first  # a fresh worker took its place
    finally:
        runner.close()


async def test_parse_over_its_memory_cap_fails_cleanly():
    from backend.bounded import BoundedRunner
    from backend.errors import PayloadTooLarge

    runner = BoundedRunner(memory_bytes=512 * 1024 * 1024)
    try:
        with pytest.raises(PayloadTooLarge) as exc:
            await runner.run(bytearray, 2 * 1024 * 1024 * 1024, timeout_s=60, what_zh="测试文件", what_en="test file")
        assert exc.value.code == "parse_memory" and "512 MB" in exc.value.zh
        assert len(await runner.run(bytearray, 1024, timeout_s=60, what_zh="测试文件", what_en="test file")) == 1024
    finally:
        runner.close()


async def test_errors_raised_in_the_worker_reach_the_caller_intact():
    from backend.bounded import BoundedRunner
    from backend.crew.xlsx import read_rows
    from backend.errors import InvalidInput

    runner = BoundedRunner(memory_bytes=1024 * 1024 * 1024)
    try:
        with pytest.raises(InvalidInput) as exc:
            await runner.run(read_rows, b"PK\x03\x04 not a workbook", 10, timeout_s=60, what_zh="Excel 文件",
                             what_en="workbook")
        assert (exc.value.code, exc.value.field, exc.value.status_code) == ("bad_xlsx", "file", 400)
        assert "无法读取" in exc.value.zh
    finally:
        runner.close()


def test_worker_dies_when_the_server_process_dies(tmp_path):
    script = textwrap.dedent("""
        import asyncio, os, sys
        from backend.bounded import BoundedRunner

        async def main():
            r = BoundedRunner(memory_bytes=0)
            r.warm_up()
            print(r.idle_pids[0], flush=True)
            os.kill(os.getpid(), 9)  # the server dies without any clean-up

        if __name__ == "__main__":
            asyncio.run(main())
    """)
    path = tmp_path / "server.py"
    path.write_text(script)
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=60)
    assert proc.returncode == -9, proc.stderr
    child = int(proc.stdout.split()[0])
    for _ in range(200):  # PR_SET_PDEATHSIG kills it at once; the watchdog thread within 0.25 s
        if _gone(child):
            break
        time.sleep(0.05)
    assert _gone(child)
