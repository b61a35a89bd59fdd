"""Piccolo app of the privacy domain: the retention-run log and the key-rotation log (own migrations)."""

import os

from piccolo.conf.apps import AppConfig

from backend.privacy.tables import KeyRotation, RetentionRun

APP_CONFIG = AppConfig(
    app_name="privacy",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[RetentionRun, KeyRotation],
    migration_dependencies=["backend.piccolo_app"],
    commands=[],
)
