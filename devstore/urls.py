from django.urls import path, re_path

from devstore import views

app_name = "devstore"

shop = "<str:shop_domain>"
urlpatterns = [
    path("", views.shop_list, name="index"),
    path("theme-assets/<path:path>", views.theme_asset, name="theme_asset"),
    path("ext-modules/<str:name>", views.extension_module, name="extension_module"),
    path(f"{shop}/", views.storefront, name="storefront"),
    path(f"{shop}/admin/oauth/authorize", views.oauth_authorize, name="oauth_authorize"),
    path(f"{shop}/admin/oauth/access_token", views.oauth_access_token, name="oauth_access_token"),
    path(f"{shop}/admin/apps/beam", views.admin_app_frame, name="admin_app_frame"),
    path(f"{shop}/admin/session-token", views.admin_session_token, name="session_token"),
    re_path(
        r"^(?P<shop_domain>[^/]+)/admin/api/(?P<version>[0-9]{4}-[0-9]{2}|unstable)/graphql\.json$",
        views.admin_graphql,
        name="admin_graphql",
    ),
    path(f"{shop}/apps/beam/", views.app_proxy, {"path": ""}, name="app_proxy_root"),
    path(f"{shop}/apps/beam/<path:path>", views.app_proxy, name="app_proxy"),
    path(f"{shop}/login", views.customer_login, name="customer_login"),
    path(f"{shop}/products/<int:variant_id>", views.product, name="product"),
    path(f"{shop}/account", views.account, name="account"),
    path(f"{shop}/discount/<str:code>", views.discount_apply, name="discount_apply"),
    path(f"{shop}/cart", views.cart, name="cart"),
    path(f"{shop}/cart/add", views.cart_add, name="cart_add"),
    path(f"{shop}/checkout/discount", views.checkout_discount, name="checkout_discount"),
    path(
        f"{shop}/checkout/extension-token",
        views.checkout_extension_token,
        name="checkout_extension_token",
    ),
    path(
        f"{shop}/checkout/thank-you/<int:order_id>",
        views.checkout_thank_you,
        name="checkout_thank_you",
    ),
    path(f"{shop}/orders", views.orders, name="orders"),
    path(f"{shop}/orders/<int:order_id>/<str:action>", views.order_action, name="order_action"),
    path(f"{shop}/customers", views.customers, name="customers"),
    path(f"{shop}/discounts", views.discounts, name="discounts"),
    path(f"{shop}/webhooks", views.webhooks, name="webhooks"),
]
