"""HTTP face of the devstore, one module per page family: the platform endpoints Beam calls
(`platform`), the shops and their catalogue (`shops`), the storefront, the cart and checkout,
and the store admin's pages (`store_admin`)."""
