"""Piccolo configuration: the engine is picked from ``SMZ_DATABASE_URL`` (see backend/settings.py)."""

from piccolo.conf.apps import AppRegistry

from backend.db import make_engine

DB = make_engine()

APP_REGISTRY = AppRegistry(apps=["backend.piccolo_app"])
