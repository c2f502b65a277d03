"""Routes for the checkout and customer-account extensions (mounted at /ext/)."""

urlpatterns: list = []
