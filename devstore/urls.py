from django.urls import path, re_path

from devstore.views import checkout, platform, review_app, shops, store_admin, storefront

app_name = "devstore"

shop = "<str:shop_domain>"
urlpatterns = [
    path("", shops.shop_list, name="index"),
    path("theme-assets/<path:path>", platform.theme_asset, name="theme_asset"),
    path("ext-modules/<str:name>", checkout.extension_module, name="extension_module"),
    path(f"{shop}/", storefront.storefront, name="storefront"),
    path(f"{shop}/admin/oauth/authorize", platform.oauth_authorize, name="oauth_authorize"),
    path(
        f"{shop}/admin/oauth/access_token", platform.oauth_access_token, name="oauth_access_token"
    ),
    path(f"{shop}/admin/", shops.shop_home, name="shop_home"),
    path(f"{shop}/admin/products", shops.product_add, name="product_add"),
    path(f"{shop}/admin/apps/beam", platform.admin_app_frame, name="admin_app_frame"),
    path(f"{shop}/admin/session-token", platform.admin_session_token, name="session_token"),
    re_path(
        r"^(?P<shop_domain>[^/]+)/admin/api/(?P<version>[0-9]{4}-[0-9]{2}|unstable)/graphql\.json$",
        platform.admin_graphql,
        name="admin_graphql",
    ),
    path(f"{shop}/apps/beam", platform.app_proxy, {"path": None}, name="app_proxy_bare"),
    path(f"{shop}/apps/beam/", platform.app_proxy, {"path": ""}, name="app_proxy_root"),
    path(f"{shop}/apps/beam/<path:path>", platform.app_proxy, name="app_proxy"),
    path(f"{shop}/login", storefront.customer_login, name="customer_login"),
    path(f"{shop}/products/<int:variant_id>", storefront.product, name="product"),
    path(f"{shop}/account", storefront.account, name="account"),
    path(f"{shop}/discount/<str:code>", storefront.discount_apply, name="discount_apply"),
    path(f"{shop}/cart", checkout.cart, name="cart"),
    path(f"{shop}/cart/add", checkout.cart_add, name="cart_add"),
    path(f"{shop}/cart.js", checkout.cart_json, name="cart_json"),
    path(f"{shop}/checkout/discount", checkout.checkout_discount, name="checkout_discount"),
    path(
        f"{shop}/checkout/extension-token",
        checkout.checkout_extension_token,
        name="checkout_extension_token",
    ),
    path(
        f"{shop}/checkout/thank-you/<int:order_id>",
        checkout.checkout_thank_you,
        name="checkout_thank_you",
    ),
    path(f"{shop}/orders", store_admin.orders, name="orders"),
    path(
        f"{shop}/orders/<int:order_id>/<str:action>", store_admin.order_action, name="order_action"
    ),
    path(f"{shop}/customers", store_admin.customers, name="customers"),
    path(
        f"{shop}/customers/<int:customer_id>/email-consent",
        store_admin.customer_email_consent,
        name="customer_email_consent",
    ),
    path(f"{shop}/discounts", store_admin.discounts, name="discounts"),
    path(f"{shop}/webhooks", store_admin.webhooks, name="webhooks"),
    path(f"{shop}/apps/reviews", review_app.review_app, name="review_app"),
]
