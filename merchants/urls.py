from django.urls import path

from merchants import views

urlpatterns = [
    path("", views.app_home, name="app_home"),
    path("admin/", views.admin_home, name="admin_home"),
    path("admin/api/session", views.ShopSessionApi.as_view(), name="admin_api_session"),
    path("auth/install", views.auth_install, name="auth_install"),
    path("auth/callback", views.auth_callback, name="auth_callback"),
    path("healthz", views.healthz, name="healthz"),
]
