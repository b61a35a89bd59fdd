"""Piccolo app of the approvals domain (project applications and their rounds)."""

import os

from piccolo.conf.apps import AppConfig

from backend.approvals.tables import ProjectApplication, ProjectApplicationRound

APP_CONFIG = AppConfig(
    app_name="approvals",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[ProjectApplication, ProjectApplicationRound],
    migration_dependencies=["backend.piccolo_app"],
    commands=[],
)
