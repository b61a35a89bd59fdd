"""Piccolo configuration: the engine is picked from ``SMZ_DATABASE_URL`` (see backend/settings.py).

Apps: ``backend.piccolo_app`` (the foundation tables) and every domain package that has its own
``backend/<domain>/piccolo_app.py`` (own tables and migrations, depending on the foundation app).
"""

from piccolo.conf.apps import AppRegistry

from backend.db import discover_apps, make_engine

DB = make_engine()

APP_REGISTRY = AppRegistry(apps=["backend.piccolo_app", *discover_apps()])
