"""Vietnamese number formats: 1.234.567 (Django's own `vi` formats group no digits).

Only what differs from Django's defaults for `vi`; every other format falls back to them.
"""

DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
