"""Supervision (监管): live map, daily rollups, key managers' on-duty rates, warnings, dashboards, reports."""
