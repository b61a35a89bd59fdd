"""Crew registration on the foreman tablet: ID check, 人证核验, enrolment, roster, contracts, import/export."""
