"""Embedded admin pages for running the program (mounted under /admin/)."""

urlpatterns: list = []
