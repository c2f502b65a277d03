"""Pure domain rules: decisions computed from values, no database writes."""
