"""Piccolo app of device upkeep (issue 20): repair tickets, removal/move notices, findings."""

import os

from piccolo.conf.apps import AppConfig

from backend.upkeep.tables import RemovalNotice, RepairTicket, UpkeepFinding

APP_CONFIG = AppConfig(
    app_name="upkeep",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[RepairTicket, RemovalNotice, UpkeepFinding],
    migration_dependencies=["backend.piccolo_app"],
    commands=[],
)
