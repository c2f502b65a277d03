"""The merchant-facing pages of ``merchants``: install, the embedded entry, webhook health."""
