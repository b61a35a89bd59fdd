"""Responses of the platform upload API (issue 17)."""

from __future__ import annotations

import msgspec


class UploadStateOut(msgspec.Struct):
    kind: str
    id: int
    state: str  # vocabulary.UploadState
    label: str  # 未上传 / 上传中 / 处理中 / 上传成功 / 上传失败 / 等待上级
    reason: str
    updated: str  # China time


class RetryOut(msgspec.Struct):
    kind: str
    id: int
    state: str
    label: str
