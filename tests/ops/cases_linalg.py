"""OpCases for the linalg ops added after the first database (joined to OP_CASES in op_db.py)."""
from op_db import C, FLOAT, ALL, NUMERIC, COMPLEX, ErrorCase  # noqa: F401

CASES = []
ERROR_CASES = []
