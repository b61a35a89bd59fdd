"""Piccolo app of the supervision domain (own tables and migrations)."""

import os

from piccolo.conf.apps import AppConfig

from backend.supervision.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="supervision",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=list(TABLES),
    migration_dependencies=["backend.piccolo_app"],
    commands=[],
)
