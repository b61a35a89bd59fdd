"""Fixtures of the fence tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import login


@pytest.fixture(scope="module")
async def admin_h(client: Any, world: Any) -> dict[str, str]:
    return await login(client, world.users["admin"])
