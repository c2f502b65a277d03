from django.urls import path

from merchants.views import embedded, install

urlpatterns = [
    path("", embedded.app_home, name="app_home"),
    path("admin/", embedded.admin_home, name="admin_home"),
    path("admin/api/session", embedded.ShopSessionApi.as_view(), name="admin_api_session"),
    path("auth/install", install.auth_install, name="auth_install"),
    path("auth/callback", install.auth_callback, name="auth_callback"),
    path("healthz", embedded.healthz, name="healthz"),
    path("favicon.ico", embedded.favicon, name="favicon"),
]
