"""Tables of the platform upload (issue 17): per-entity upload state, credentials, platform health, the
uploader's leader lease.  ``upload_task`` (the outbox) lives in ``backend.outbox`` (base layer: written by the
services of the lower domains in their own transactions) and belongs to this Piccolo app."""

from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.org.tables import District, Project
from backend.outbox import UploadTask
from backend.vocabulary import UploadState, width

__all__ = ["PlatformCredential", "PlatformHealth", "UploadEntityState", "UploadTask", "UploaderLease"]


class UploadEntityState(Table, tablename="upload_state"):
    """What the platform knows of one of our entities (seed 001 §2.9; shown on the lists and the result page).
    No row = 未上传."""

    entity_key = Varchar(length=40, unique=True)  # "<kind>:<entity_id>"
    kind = Varchar(length=20, index=True)
    entity_id = Integer()
    project_id = Integer(null=True, default=None, index=True)
    district_id = Integer(null=True, default=None, index=True)
    state = Varchar(length=width(UploadState, 16), default=UploadState.not_uploaded, index=True)
    reason = Text(null=True, default=None)  # the platform's reason (上传失败) or what it waits for (等待上级)
    platform_id = Varchar(length=80, null=True, default=None)
    ever_succeeded = Boolean(default=False)  # once 上传成功: later changes go up as updates
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)


class PlatformCredential(Table, tablename="platform_credential"):
    """appid/appsecret of the provincial platform for a district (optionally overridden for one project).
    The secret is encrypted at rest (``backend.crypto.encrypt_text``, aad ``platform_secret``)."""

    district = ForeignKey(references=District, null=False, on_delete=OnDelete.cascade)
    project = ForeignKey(references=Project, null=True, default=None, on_delete=OnDelete.cascade)
    base_url = Varchar(length=300)
    appid = Varchar(length=80)
    secret_cipher = Text()
    enabled = Boolean(default=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class PlatformHealth(Table, tablename="platform_health"):
    """Circuit breaker state of one platform endpoint (``base_url``): closed / open, down since when."""

    base_url = Varchar(length=300, unique=True)
    circuit = Varchar(length=8, default="closed")  # closed | open
    down_since = Timestamptz(null=True, default=None)
    last_error = Text(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class UploaderLease(Table, tablename="uploader_lease"):
    """The leader lease of ``smz uploader`` on SQLite (PostgreSQL uses an advisory lock): one row per name."""

    name = Varchar(length=40, unique=True)
    holder = Varchar(length=80)
    expires_at = Timestamptz()
