"""Pure rules of the loyalty domain: no database access, values in, values out."""
