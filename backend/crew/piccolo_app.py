"""Piccolo app of the crew-registration domain (own tables and migrations)."""

import os

from piccolo.conf.apps import AppConfig

from backend.crew.tables import (
    CrewFile,
    ExitConfirmation,
    FaceIndexState,
    IdAccessLog,
    ImportJob,
    LabourContract,
    Registration,
)

APP_CONFIG = AppConfig(
    app_name="crew",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[CrewFile, Registration, LabourContract, ExitConfirmation, ImportJob, FaceIndexState, IdAccessLog],
    migration_dependencies=["backend.piccolo_app"],
    commands=[],
)
