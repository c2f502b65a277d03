"""Gunicorn settings the Procfile's command line does not carry."""

# The access log must not keep session tokens, signatures or hmacs from query strings.
logger_class = "config.log_redaction.RedactingGunicornLogger"
