"""Analytics dashboard routes (mounted at /admin/analytics/)."""

urlpatterns: list = []
