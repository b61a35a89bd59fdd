"""Approvals: requests that need a decision (项目申报 first), notifications of their results, and the project's
audit trail (who changed what, when, why)."""
