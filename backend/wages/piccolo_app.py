"""Piccolo app of the wage domain (own tables and migrations)."""

import os

from piccolo.conf.apps import AppConfig

from backend.wages.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="wages",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=list(TABLES),
    migration_dependencies=["backend.piccolo_app", "backend.crew.piccolo_app"],
    commands=[],
)
