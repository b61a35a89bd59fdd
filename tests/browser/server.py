"""The browser tests' server: a fresh database, the migrations, a site built through the services,
then uvicorn serving ``backend.app:create_app()``.

    python -m tests.browser.server --data-dir DIR --port PORT --site-file FILE [--database-url URL]

Writes the site (ids, usernames, fence points) as JSON to ``--site-file`` once the data exist, then
serves until terminated.  Run by ``tests/browser/conftest.py`` as a subprocess, so the app has its
own process, event loop and database — like production.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from pathlib import Path


def _env(data_dir: Path, database_url: str | None) -> None:
    os.environ["SMZ_DATA_DIR"] = str(data_dir)
    os.environ["SMZ_DATABASE_URL"] = database_url or f"sqlite:///{data_dir / 'smz.db'}"
    os.environ.setdefault("SMZ_SECRET_KEY", base64.b64encode(b"browser-test-key-0123456789abcd!").decode())
    os.environ["PICCOLO_CONF"] = "piccolo_conf"
    os.environ["SMZ_GATE_PORT"] = "0"


async def _prepare(site_file: Path) -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend import db
    from tests.browser.site import build_site

    result = await run_forwards(app_name="all")
    if not result.success:
        raise SystemExit(f"migrations failed: {result.message}")
    await db.start_pool()
    try:
        site = await build_site()
    finally:
        await db.close_pool()
    tmp = site_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(site.to_dict(), ensure_ascii=False))
    tmp.replace(site_file)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--site-file", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    _env(args.data_dir, args.database_url)
    root = Path(__file__).resolve().parents[2]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    asyncio.run(_prepare(args.site_file))

    import uvicorn

    from backend.app import create_app

    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
