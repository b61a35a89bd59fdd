"""Piccolo app of the platform upload domain (issue 17): the outbox, upload states, credentials, health."""

import os

from piccolo.conf.apps import AppConfig

from backend.platform.tables import PlatformCredential, PlatformHealth, UploadEntityState, UploaderLease, UploadTask

APP_CONFIG = AppConfig(
    app_name="platform",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[UploadTask, UploadEntityState, PlatformCredential, PlatformHealth, UploaderLease],
    migration_dependencies=["backend.piccolo_app"],
    commands=[],
)
