"""Wages (issue 16): the special wage account and deposit, the monthly payroll, bank payment batches (代发) and the
monthly reconciliation of pay with attendance.  Money is integer fen everywhere (``backend.money``)."""
