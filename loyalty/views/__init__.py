"""The embedded admin's pages, one module per page family (function-based htmx views).

Every view is wrapped in ``embedded_admin_required`` (session token → ``request.shop``) and
reads or writes only that shop's rows: other shops' ids are a 404. An htmx request gets the
page's ``content`` partial, a document load the whole page (``merchants.views.pages``); the
change itself is made by a ``loyalty.services`` function, which also writes the audit row.
"""
