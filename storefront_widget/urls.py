"""App-proxy routes: the storefront API and the landing page (mounted at /proxy/)."""

urlpatterns: list = []
