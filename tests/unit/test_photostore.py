"""The photo store (backend/photostore.py; issue 18): the AWS Signature V4 pieces against AWS's own documented
examples, the hash check that keeps user input out of paths, and the filesystem store's layout and durability
steps (content-addressed, identical bytes written once, no temporary file left)."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from backend import photostore
from backend.photostore import (
    FileStore,
    S3Store,
    canonical_request,
    check_sha,
    signature,
    signing_key,
    sigv4_headers,
    store_from_url,
)

# AWS documentation examples (IAM "derive a signing key"; S3 "Signature Calculations for the Authorization
# Header: Transferring Payload in a Single Chunk").
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_HOST = "examplebucket.s3.amazonaws.com"
AWS_DATE = "20130524T000000Z"
EMPTY = hashlib.sha256(b"").hexdigest()


def test_signing_key_derivation_matches_the_aws_documented_vector() -> None:
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_get_object_signature_matches_the_aws_s3_example() -> None:
    headers = {"host": AWS_HOST, "range": "bytes=0-9", "x-amz-content-sha256": EMPTY, "x-amz-date": AWS_DATE}
    creq, signed = canonical_request("GET", "/test.txt", {}, headers, EMPTY)
    assert signed == "host;range;x-amz-content-sha256;x-amz-date"
    assert hashlib.sha256(creq.encode()).hexdigest() == \
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    assert signature(AWS_SECRET, AWS_DATE, "us-east-1", "s3", creq) == \
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_put_object_signature_matches_the_aws_s3_example() -> None:
    payload = hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()
    headers = {"date": "Fri, 24 May 2013 00:00:00 GMT", "host": AWS_HOST, "x-amz-date": AWS_DATE,
               "x-amz-storage-class": "REDUCED_REDUNDANCY", "x-amz-content-sha256": payload}
    creq, _ = canonical_request("PUT", "/test%24file.text", {}, headers, payload)
    assert signature(AWS_SECRET, AWS_DATE, "us-east-1", "s3", creq) == \
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_list_objects_signature_matches_the_aws_s3_example_query_sorted() -> None:
    headers = {"host": AWS_HOST, "x-amz-content-sha256": EMPTY, "x-amz-date": AWS_DATE}
    creq, _ = canonical_request("GET", "/", {"prefix": "J", "max-keys": "2"}, headers, EMPTY)
    assert signature(AWS_SECRET, AWS_DATE, "us-east-1", "s3", creq) == \
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"


def test_sigv4_headers_build_the_documented_authorization_header() -> None:
    h = sigv4_headers("GET", AWS_HOST, "/test.txt", {}, EMPTY, access_key="AKIAIOSFODNN7EXAMPLE",
                      secret_key=AWS_SECRET, region="us-east-1", amz_date=AWS_DATE, extra={"Range": "bytes=0-9"})
    assert h["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 65, "g" * 64, "", "a" * 63 + "/",
                                 "ab/cd/" + "a" * 58, None])
def test_a_hash_that_is_not_64_lowercase_hex_never_becomes_a_path(bad, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        check_sha(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FileStore(tmp_path).path(bad)  # type: ignore[arg-type]


async def test_file_store_is_content_addressed_with_two_folder_levels(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "photos")
    a, b = b"\xff\xd8photo-a" * 100, b"\xff\xd8photo-b" * 100
    shas = await store.put_many([(a, "image/jpeg"), (b, "image/jpeg"), (a, "image/jpeg")])
    assert shas == [hashlib.sha256(a).hexdigest(), hashlib.sha256(b).hexdigest(), hashlib.sha256(a).hexdigest()]
    path = tmp_path / "photos" / shas[0][:2] / shas[0][2:4] / shas[0]
    assert path.read_bytes() == a
    assert await store.get(shas[1]) == b and await store.exists(shas[0])
    files = [p for p in (tmp_path / "photos").rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == sorted({shas[0], shas[1]})  # written once, no temporary file left


async def test_the_same_bytes_again_are_not_rewritten_only_their_time_refreshed(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    [sha] = await store.put_many([(b"same", "image/jpeg")])
    path = store.path(sha)
    old = time.time() - 7200
    os.utime(path, (old, old))
    inode = path.stat().st_ino
    await store.put_many([(b"same", "image/jpeg")])
    assert path.stat().st_ino == inode and path.stat().st_mtime > old + 3600
    assert [x async for x in store.older_than(time.time() - 3600)] == []


async def test_a_file_left_short_or_zeroed_by_a_crash_is_written_again_on_the_next_put(tmp_path: Path) -> None:
    """A crash between a photo's write and its sync can leave its name holding fewer bytes, or zeros: the next put
    of the same photo (the terminal re-sends it) checks the content against the name and writes it whole."""
    store = photostore.FileStore(tmp_path)
    photo = b"\xff\xd8 gate photo " * 300
    sha = photostore.sha256_hex(photo)
    for left in (photo[:100], bytes(len(photo))):
        store.path(sha).parent.mkdir(parents=True, exist_ok=True)
        store.path(sha).write_bytes(left)
        assert await store.put_many([(photo, "image/jpeg")]) == [sha]
        assert await store.get(sha) == photo
    assert [p.name for p in store.path(sha).parent.iterdir()] == [sha]  # no temporary file left


async def test_a_batch_goes_in_one_pack_each_photo_readable_by_hash_and_place(tmp_path: Path) -> None:
    store = photostore.FileStore(tmp_path)
    photos = [b"\xff\xd8 one" * 100, b"\xff\xd8 two" * 90, b"\xff\xd8 one" * 100]  # the same bytes twice: 2 slices
    stored = await store.put_packed(photos)
    assert [sha for sha, _ in stored] == [photostore.sha256_hex(p) for p in photos]
    assert len({loc.split(":")[0] for _, loc in stored}) == 1 and len({loc for _, loc in stored}) == 3
    assert [await store.get_packed(sha, loc) for sha, loc in stored] == photos
    packs, loose = _files(tmp_path)
    assert len(packs) == 1 and loose == []
    assert [x async for x in store.older_than(time.time() + 3600)] == []  # packs are never swept as loose photos


async def test_a_released_slice_reads_as_gone_and_its_neighbours_stay(tmp_path: Path) -> None:
    store = photostore.FileStore(tmp_path)
    photos = [b"\xff\xd8 first" * 100, b"\xff\xd8 second" * 100, b"\xff\xd8 third" * 100]
    (a_sha, a_loc), (b_sha, b_loc), (c_sha, c_loc) = await store.put_packed(photos)
    assert await store.release([b_loc]) == 1
    assert await store.get_packed(b_sha, b_loc) is None
    assert await store.get_packed(a_sha, a_loc) == photos[0] and await store.get_packed(c_sha, c_loc) == photos[2]
    name, offset, length = photostore.check_loc(b_loc)
    assert (tmp_path / "packs" / name).read_bytes()[offset:offset + length] == bytes(length)
    assert await store.get_packed(a_sha, b_loc) is None  # a place that does not hold those bytes: nothing


@pytest.mark.parametrize("bad", ["../etc/passwd:0:10", "2026-12-03/x.pack:0:1", "2026-12-03/" + "a" * 32 + ".pack",
                                 "2026-12-03/" + "a" * 32 + ".pack:-1:5", "/abs/" + "a" * 32 + ".pack:0:5"])
def test_a_place_that_is_not_a_pack_slice_never_becomes_a_path(bad: str) -> None:
    with pytest.raises(ValueError):
        photostore.check_loc(bad)


def _files(root: Path) -> tuple[list[Path], list[Path]]:
    """(pack files, other files) under ``root``."""
    files = [p for p in root.rglob("*") if p.is_file()]
    return [p for p in files if "packs" in p.parts], [p for p in files if "packs" not in p.parts]


def _remove_folders(root: Path) -> None:
    for folder in root.iterdir():
        shutil.rmtree(folder)


async def test_a_folder_removed_behind_the_store_is_made_again(tmp_path: Path) -> None:
    store = photostore.FileStore(tmp_path)
    first = await store.put_many([(b"one photo", "image/jpeg")])
    _remove_folders(tmp_path)
    assert await store.put_many([(b"one photo", "image/jpeg")]) == first
    assert await store.get(first[0]) == b"one photo"


async def test_file_store_lists_old_files_and_deletes(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    shas = await store.put_many([(b"one", "image/jpeg"), (b"two", "image/jpeg")])
    old = time.time() - 7200
    os.utime(store.path(shas[0]), (old, old))
    (store.path(shas[0]).parent / f".{shas[0]}.dead.tmp").write_bytes(b"x")  # a crashed write
    os.utime(store.path(shas[0]).parent / f".{shas[0]}.dead.tmp", (old, old))
    found = [sha async for chunk in store.older_than(time.time() - 3600) for sha in chunk]
    assert found == [shas[0]]
    assert not (store.path(shas[0]).parent / f".{shas[0]}.dead.tmp").exists()
    assert await store.delete_many(shas + shas) == 2
    assert await store.get(shas[0]) is None and not await store.exists(shas[1])


def test_store_url_forms(tmp_path: Path) -> None:
    assert store_from_url("file:///var/lib/smz/photos") == FileStore(Path("/var/lib/smz/photos"))
    assert store_from_url("photos", data_dir=tmp_path) == FileStore(tmp_path / "photos")
    s3 = store_from_url("s3://bucket/smz/photos?endpoint=http://minio:9000&region=cn-south-1",
                        access_key="ACCESS-ID", secret_key="SECRET-VALUE")
    assert isinstance(s3, S3Store)
    assert (s3.endpoint, s3.bucket, s3.prefix, s3.region) == ("http://minio:9000", "bucket", "smz/photos", "cn-south-1")
    assert s3._key("ab" * 32) == "smz/photos/ab/ab/" + "ab" * 32
    assert "SECRET-VALUE" not in repr(s3) and "ACCESS-ID" not in repr(s3)  # no credential in logs
    with pytest.raises(SystemExit):
        store_from_url("s3://bucket/p?endpoint=http://minio:9000")  # no credentials
    with pytest.raises(SystemExit):
        store_from_url("ftp://host/photos")


async def test_module_functions_validate_every_hash_before_touching_the_store() -> None:
    for call in (photostore.get, photostore.exists):
        with pytest.raises(ValueError):
            await call("../secret")
    with pytest.raises(ValueError):
        await photostore.delete_many(["a" * 64, "../x"])
