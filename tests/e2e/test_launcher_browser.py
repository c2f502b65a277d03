"""The storefront launcher and panel in a real Chromium, against a fake of the app-proxy API.

A local ``http.server`` (127.0.0.1, ephemeral port) serves a host page that renders the
config holder the way ``blocks/launcher-embed.liquid`` does, the extension's real assets, and
a small in-memory fake of the storefront JSON API contract (program, me, redeem, redemption
status, cancel) with insufficient-points errors and idempotency by ``client_key``.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.shopper import dialog, focused, launcher, open_panel, tab_to_launcher

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "extensions" / "beam-theme" / "assets"
ARTIFACTS = ROOT / "tests" / "artifacts"
PROXY = "/apps/beam"
HISTORY_PAGE_SIZE = 10
CUSTOMER_ID = "7001"

# The host page sums layout shifts (CLS) from the start, like a field measurement would.
CLS_OBSERVER = """window.__cls = 0;
new PerformanceObserver(l => l.getEntries().forEach(e => {
  if (!e.hadRecentInput) __cls += e.value;
})).observe({type: 'layout-shift', buffered: true});"""
THEME_CSS = """body{margin:0;font:16px/1.5 Georgia,serif;color:#222;background:#faf8f5}
header{display:flex;gap:24px;align-items:center;padding:18px 40px;background:#fff;
  border-bottom:1px solid #e7e2da}
header b{font-size:22px;margin-right:auto} a{color:#222}
main{padding:32px 40px;display:grid;gap:24px;
  grid-template-columns:repeat(auto-fill,minmax(220px,1fr))}
.card .img{aspect-ratio:1;background:linear-gradient(135deg,#e9e4dc,#d9d1c4);border-radius:6px}
.card h3{margin:10px 0 0;font-size:17px}.card p{margin:2px 0;color:#555}"""


def _program(
    logged_in: bool, texts: dict[str, dict[str, str]], extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    program = _program_base(logged_in, texts)
    program["rewards"] += extra or []
    return program


def _program_base(logged_in: bool, texts: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {
        "shop": {"name": "Demo Store", "currency": "EUR"},
        "branding": {
            "primary_color": "#4f46e5",
            "text_color": "#ffffff",
            "position": "bottom-right",
            "shape": "pill",
            "icon": "gift",
            "launcher_label": "Rewards",
            "panel_title": "Demo Store Rewards",
        },
        "texts": texts,
        "earning": [
            {
                "key": "order",
                "title": "Place an order",
                "description": "1 point for every €1 spent",
                "points_label": "1 pt / €1",
                "done": None,
            },
            {
                "key": "signup",
                "title": "Create an account",
                "description": "",
                "points_label": "100 points",
                "done": True,
            },
            {
                "key": "birthday",
                "title": "Celebrate your birthday",
                "description": "",
                "points_label": "250 points",
                "done": False,
            },
        ],
        "rewards": [
            _reward("rw_5", "€5 off your order", "fixed_amount", 500, "5.00"),
            _reward("rw_ship", "Free shipping", "free_shipping", 800, None, "30.00"),
            _reward("rw_20", "€20 off your order", "fixed_amount", 2000, "20.00"),
            {
                **_reward("rw_var", "Store credit", "variable", None, None),
                "variable": {
                    "min_points": 100,
                    "max_points": 1000,
                    "points_per_unit": 100,
                    "unit_value": "1.00",
                },
            },
        ],
        "tiers": [
            {
                "name": "Silver",
                "metric": "points",
                "threshold": 0,
                "multiplier": "1",
                "perks": [],
                "entry_points": 0,
            },
            {
                "name": "Gold",
                "metric": "points",
                "threshold": 2000,
                "multiplier": "1.5",
                "perks": ["Free shipping"],
                "entry_points": 100,
            },
        ],
        "customer": {"logged_in": logged_in},
        "urls": {"sign_up": "/account/register", "log_in": "/account/login", "landing": PROXY},
    }


def _reward(
    rid: str, title: str, kind: str, cost: int | None, value: str | None, min_sub: str = "0.00"
) -> dict[str, Any]:
    return {
        "id": rid,
        "title": title,
        "kind": kind,
        "points_cost": cost,
        "value": value,
        "currency": "EUR",
        "min_subtotal": min_sub,
        "variable": None,
        "tier": None,
    }


SILVER_BLOCK: dict[str, Any] = {
    "name": "Silver",
    "rank": 0,
    "multiplier": "1",
    "granted": False,
    "until": "2027-01-01T00:00:00Z",
    "metric": "points",
    "value": 1320,
    "next": {"name": "Gold", "threshold": 2000, "remaining": 680},
}


@dataclass
class FakeStore:
    """In-memory state behind the fake API: one member, their ledger and redemptions."""

    balance: int = 1200
    lifetime_earned: int = 1320
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    redemptions: list[dict[str, Any]] = field(default_factory=list)
    by_client_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    tier: dict[str, Any] | None = field(default_factory=lambda: dict(SILVER_BLOCK))
    extra_rewards: list[dict[str, Any]] = field(default_factory=list)
    redeem_posts: list[dict[str, Any]] = field(default_factory=list)
    status_polls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for i in range(1, 24):
            self.history.insert(
                0,
                {
                    "id": f"le_{i}",
                    "amount": 60,
                    "kind": "order",
                    "label": f"Order #{1000 + i}",
                    "created_at": f"2026-05-{i:02d}T10:00:00Z",
                },
            )

    def me(self, page: str | None) -> dict[str, Any]:
        start = int(page or 0)
        end = start + HISTORY_PAGE_SIZE
        return {
            "member": {
                "balance": self.balance,
                "pending": [{"points": 45, "release_at": "2026-07-14T00:00:00Z"}],
                "lifetime_earned": self.lifetime_earned,
                # the tier block Beam's tier rules computed (``member_tier_document``)
                "tier": self.tier,
            },
            "history": {
                "entries": self.history[start:end],
                "next_page": str(end) if end < len(self.history) else None,
            },
            "redemptions": self.redemptions,
        }

    def redeem(self, body: dict[str, Any], program: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.redeem_posts.append(body)
            key = body.get("client_key")
            if not key:
                return 400, _error("invalid", "client_key is required.")
            if key in self.by_client_key:
                return 201, {"redemption": self.by_client_key[key]}
            reward = next((r for r in program["rewards"] if r["id"] == body.get("reward_id")), None)
            if reward is None:
                return 404, _error("reward_not_found", "This reward is not available.")
            if reward["variable"]:
                v = reward["variable"]
                cost = body.get("points")
                if (
                    not isinstance(cost, int)
                    or not v["min_points"] <= cost <= v["max_points"]
                    or cost % v["points_per_unit"]
                ):
                    return 400, _error("invalid_points", "Choose a valid amount of points.")
            else:
                cost = reward["points_cost"]
            if cost > self.balance:
                return 422, _error("insufficient_points", "You do not have enough points yet.")
            self.balance -= cost
            n = len(self.redemptions) + 1
            code = f"BEAM-{n:04d}X"
            red = {
                "id": f"rd_{n}",
                "code": code,
                "status": "pending" if reward["kind"] == "free_shipping" else "issued",
                "reward_title": reward["title"],
                "value": reward["value"],
                "points": cost,
                "expires_at": "2026-12-31T23:59:59Z",
                "created_at": "2026-06-01T12:00:00Z",
                "apply_url": f"/discount/{code}?redirect=/cart",
            }
            self.redemptions.insert(0, red)
            self.by_client_key[key] = red
            self._entry(-cost, "redeem", f"Redeemed {reward['title']}")
            return 201, {"redemption": red}

    def status(self, rid: str) -> tuple[int, dict[str, Any]]:
        red = self._find(rid)
        if red is None:
            return 404, _error("not_found", "No such redemption.")
        self.status_polls[rid] = self.status_polls.get(rid, 0) + 1
        if red["status"] == "pending" and self.status_polls[rid] >= 2:
            red["status"] = "issued"
        return 200, {"redemption": red}

    def cancel(self, rid: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            red = self._find(rid)
            if red is None:
                return 404, _error("not_found", "No such redemption.")
            if red["status"] != "issued":
                return 409, _error("not_cancellable", "This code can no longer be cancelled.")
            red["status"] = "cancelled"
            self.balance += red["points"]
            self._entry(red["points"], "refund", f"Cancelled {red['reward_title']}")
            return 200, {"redemption": red}

    def _find(self, rid: str) -> dict[str, Any] | None:
        return next((r for r in self.redemptions if r["id"] == rid), None)

    def _entry(self, amount: int, kind: str, label: str) -> None:
        self.history.insert(
            0,
            {
                "id": f"le_x{len(self.history)}",
                "amount": amount,
                "kind": kind,
                "label": label,
                "created_at": "2026-06-01T12:00:00Z",
            },
        )


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def host_page(query: dict[str, str], customer: str) -> str:
    """The storefront page: theme content plus the markup launcher-embed.liquid renders."""
    locale = query.get("locale", "en")
    i18n = f"/assets/beam-i18n-{locale}.js" if locale in {"fr", "de", "es"} else ""
    attrs = {
        "data-proxy": PROXY,
        "data-customer": customer,
        "data-locale": locale,
        "data-panel-js": (
            "/assets/beam-panel-tiers.js /assets/beam-panel-earn.js "
            "/assets/beam-panel-referrals.js /assets/beam-panel-views.js /assets/beam-panel.js"
        ),
        "data-panel-css": "/assets/beam-panel.css",
        "data-i18n-js": i18n,
        "data-sign-up": "/account/register",
        "data-log-in": "/account/login",
        "data-color": query.get("color", "#4f46e5"),
        "data-text-color": "#ffffff",
        "data-position": query.get("position", "bottom-right"),
        "data-shape": query.get("shape", "pill"),
        "data-icon": query.get("icon", "gift"),
        "data-label": query.get("label", "Rewards"),
        "data-mobile": query.get("mobile", "true"),
    }
    holder = "<div id='beam-root' {}></div>".format(
        " ".join(f'{k}="{html.escape(v)}"' for k, v in attrs.items())
    )
    embed = (
        ""
        if query.get("nolauncher")
        else f"{holder}<script src='/assets/beam-launcher.js' defer></script>"
    )
    cards = "".join(
        f"<article class='card'><div class='img'></div>"
        f"<h3>Product {i}</h3><p>€{19 + i}.00</p></article>"
        for i in range(1, 7)
    )
    return f"""<!doctype html><html lang="{locale}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Demo Store</title>
<script>{CLS_OBSERVER}</script><style>{THEME_CSS}</style></head>
<body><header><b>Demo Store</b><a href="/collections/all">Shop</a>
<a id="deep" href="#beam-rewards">Rewards</a><a href="/account">Account</a></header>
<main id="main">{cards}</main>{embed}</body></html>"""


class FakeServer:
    """Serves the host page, the extension assets and the fake API on 127.0.0.1."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.handle(self, self.rfile.read(length))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def handle(self, h: BaseHTTPRequestHandler, body: bytes | None) -> None:
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        self.requests.append(f"{h.command} {h.path}")
        cookie = h.headers.get("Cookie") or ""
        match = re.search(r"(?:^|;\s*)customer=(\d+)", cookie)
        customer = match.group(1) if match else ""
        if path == "/":
            customer = query.get("customer", "")
            page = host_page(query, customer).encode()
            self._send(h, 200, page, "text/html; charset=utf-8", f"customer={customer}; Path=/")
        elif path.startswith("/assets/"):
            name = path.removeprefix("/assets/")
            asset = ASSETS / name
            if "/" in name or not asset.is_file():
                self._send(h, 404, b"not found", "text/plain")
                return
            kind = "text/css" if name.endswith(".css") else "text/javascript"
            self._send(h, 200, asset.read_bytes(), f"{kind}; charset=utf-8")
        elif path.startswith(PROXY + "/api/"):
            status, payload = self.api(h.command, path.removeprefix(PROXY), query, body, customer)
            self._send(h, status, json.dumps(payload).encode(), "application/json")
        else:
            self._send(h, 404, b"not found", "text/plain")

    def api(
        self, method: str, path: str, query: dict[str, str], body: bytes | None, customer: str
    ) -> tuple[int, dict[str, Any]]:
        store = self.store
        if method == "GET" and path == "/api/program":
            return 200, _program(bool(customer), store.texts, store.extra_rewards)
        if method == "GET" and path == "/api/me":
            return 200, store.me(query.get("page")) if customer else {"member": None}
        if not customer:
            return 401, _error("login_required", "Log in to use your points.")
        if method == "POST" and path == "/api/redeem":
            return store.redeem(json.loads(body or b"{}"), _program(True, {}, store.extra_rewards))
        m = re.fullmatch(r"/api/redemptions/([\w-]+)(/cancel)?", path)
        if m and method == "GET" and not m.group(2):
            return store.status(m.group(1))
        if m and method == "POST" and m.group(2):
            return store.cancel(m.group(1))
        return 404, _error("not_found", "Unknown endpoint.")

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, data: bytes, ctype: str, cookie: str | None = None
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Cache-Control", "no-store")
        if cookie:
            h.send_header("Set-Cookie", cookie)
        h.end_headers()
        h.wfile.write(data)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


# -- helpers ---------------------------------------------------------------------------------


def visit(page: Page, fake: FakeServer, customer: str = CUSTOMER_ID, **params: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in {"customer": customer, **params}.items())
    page.goto(f"{fake.base}/?{query}")
    expect(launcher(page)).to_be_visible()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")


def api_calls(fake: FakeServer) -> list[str]:
    return [r for r in fake.requests if f"{PROXY}/api/" in r]


# -- tests -----------------------------------------------------------------------------------


def test_guest_sees_invitation_with_sign_up_and_log_in_links(page: Page, fake: FakeServer) -> None:
    visit(page, fake, customer="")

    open_panel(page)

    d = dialog(page)
    expect(d.get_by_role("heading", name="Join our rewards program")).to_be_visible()
    expect(d.get_by_role("link", name="Join now")).to_have_attribute("href", "/account/register")
    expect(d.get_by_role("link", name="Log in")).to_have_attribute("href", "/account/login")
    expect(d.get_by_text("Place an order")).to_be_visible()
    expect(d.get_by_role("button", name=re.compile("^Redeem"))).to_have_count(0)
    assert api_calls(fake) == ["GET /apps/beam/api/program"]


def test_launcher_loads_nothing_until_clicked_and_causes_no_layout_shift(
    page: Page, fake: FakeServer
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{fake.base}/?customer={CUSTOMER_ID}&nolauncher=1")
    without = page.locator("#main").bounding_box()

    visit(page, fake)
    page.wait_for_timeout(300)

    assert page.locator("#main").bounding_box() == without
    assert page.evaluate("window.__cls") == 0
    box = launcher(page).bounding_box()
    assert box is not None
    assert box["height"] == 56
    assert box["x"] + box["width"] == 1280 - 20
    assert box["y"] + box["height"] == 800 - 20
    assert launcher(page).evaluate("b => getComputedStyle(b).position") == "fixed"
    expect(launcher(page)).to_have_attribute("aria-label", "Rewards")
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    loaded = [r for r in fake.requests if "beam-panel" in r or "/apps/beam" in r]
    assert loaded == []

    open_panel(page)

    assert any("beam-panel.js" in r for r in fake.requests)
    assert any("beam-panel.css" in r for r in fake.requests)
    assert sorted(api_calls(fake)) == ["GET /apps/beam/api/me", "GET /apps/beam/api/program"]
    expect(launcher(page)).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("window.__cls") == 0


def test_member_redeems_and_gets_a_code_to_copy_and_apply(page: Page, fake: FakeServer) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=fake.base)
    visit(page, fake)
    open_panel(page)
    d = dialog(page)
    expect(d.get_by_role("heading", name="Demo Store Rewards")).to_be_visible()
    expect(d.locator(".bal")).to_have_text("1,200 points")
    expect(d.locator(".pend")).to_have_text("45 pending until Jul 14, 2026")
    expect(d.get_by_text("800 more points needed")).to_be_visible()  # €20 reward: 2,000
    shot(page, "panel-open")

    # Redeem asks first: nothing is spent until the shopper confirms.
    d.get_by_role("button", name="Redeem: €5 off your order").click()
    expect(d.get_by_text("Spend 500 points on this reward?")).to_be_visible()
    expect(d.get_by_role("button", name="Confirm: €5 off your order")).to_be_focused()
    d.get_by_role("button", name="Not now").click()
    expect(d.get_by_role("button", name="Redeem: €5 off your order")).to_be_focused()
    assert fake.store.redeem_posts == [] and fake.store.balance == 1200
    d.get_by_role("button", name="Redeem: €5 off your order").click()
    d.get_by_role("button", name="Confirm: €5 off your order").click()

    expect(d.locator(".bal")).to_have_text("700 points")
    code = d.locator(".code.new code")
    expect(code).to_have_text("BEAM-0001X")
    expect(page.locator("#beam-root .live")).to_have_text("Your reward is ready: BEAM-0001X")
    expect(d.get_by_role("link", name="Apply to cart")).to_have_attribute(
        "href", "/discount/BEAM-0001X?redirect=/cart"
    )
    copy = d.get_by_role("button", name="Copy BEAM-0001X")
    expect(copy).to_be_focused()
    copy.click()
    expect(copy).to_have_text("Copied!")
    assert page.evaluate("navigator.clipboard.readText()") == "BEAM-0001X"
    first = d.locator(".hist li").first
    expect(first).to_contain_text("Redeemed €5 off your order")
    expect(first.locator("b")).to_have_text("-500")
    assert fake.store.balance == 700
    post = fake.store.redeem_posts[0]
    assert post["reward_id"] == "rw_5"
    assert re.fullmatch(r"[0-9a-f-]{36}", post["client_key"])
    assert "points" not in post
    shot(page, "panel-redeemed")


def test_double_click_spends_points_once(page: Page, fake: FakeServer) -> None:
    visit(page, fake)
    open_panel(page)

    dialog(page).get_by_role("button", name="Redeem: €5 off your order").click()
    dialog(page).get_by_role("button", name="Confirm: €5 off your order").dblclick()

    expect(dialog(page).locator(".bal")).to_have_text("700 points")
    page.wait_for_timeout(300)
    assert fake.store.balance == 700
    assert len(fake.store.redemptions) == 1
    assert len({p["client_key"] for p in fake.store.redeem_posts}) == 1


def test_api_error_is_announced_and_nothing_is_spent(page: Page, fake: FakeServer) -> None:
    visit(page, fake)
    open_panel(page)
    fake.store.balance = 300  # spent elsewhere after the panel loaded

    dialog(page).get_by_role("button", name="Redeem: €5 off your order").click()
    dialog(page).get_by_role("button", name="Confirm: €5 off your order").click()

    live = page.locator("#beam-root .live")
    expect(live).to_have_text("You do not have enough points yet.")
    expect(live).to_have_attribute("aria-live", "polite")
    assert fake.store.balance == 300
    assert fake.store.redemptions == []
    expect(dialog(page).locator(".code")).to_have_count(0)


def test_pending_redemption_is_polled_until_issued(page: Page, fake: FakeServer) -> None:
    visit(page, fake)
    open_panel(page)

    dialog(page).get_by_role("button", name="Redeem: Free shipping").click()
    dialog(page).get_by_role("button", name="Confirm: Free shipping").click()

    expect(dialog(page).locator(".code.new code")).to_have_text("BEAM-0001X", timeout=8000)
    assert fake.store.status_polls == {"rd_1": 2}
    expect(dialog(page).locator(".bal")).to_have_text("400 points")


def test_variable_reward_redeems_the_chosen_points(page: Page, fake: FakeServer) -> None:
    visit(page, fake)
    open_panel(page)
    d = dialog(page)
    number = d.get_by_role("spinbutton")
    expect(number).to_have_attribute("max", "1000")
    expect(number).to_have_attribute("step", "100")

    number.fill("300")
    number.dispatch_event("change")
    expect(d.get_by_text("Worth €3.00")).to_be_visible()
    expect(d.get_by_role("slider")).to_have_value("300")
    d.get_by_role("button", name="Redeem: Store credit").click()
    d.get_by_role("button", name="Confirm: Store credit").click()

    expect(d.locator(".bal")).to_have_text("900 points")
    assert fake.store.redeem_posts[0]["points"] == 300
    assert fake.store.redeem_posts[0]["reward_id"] == "rw_var"


def test_cancelling_an_unused_code_returns_the_points(page: Page, fake: FakeServer) -> None:
    visit(page, fake)
    open_panel(page)
    d = dialog(page)
    d.get_by_role("button", name="Redeem: €5 off your order").click()
    d.get_by_role("button", name="Confirm: €5 off your order").click()
    expect(d.locator(".bal")).to_have_text("700 points")

    d.locator(".code").get_by_role("button", name="Cancel").click()

    expect(d.locator(".bal")).to_have_text("1,200 points")
    expect(d.locator(".code")).to_have_count(0)
    expect(page.locator("#beam-root .live")).to_have_text("Reward cancelled, your points are back.")
    assert fake.store.redemptions[0]["status"] == "cancelled"
    assert fake.store.balance == 1200


def test_history_pages_with_show_more(page: Page, fake: FakeServer) -> None:
    visit(page, fake)
    open_panel(page)
    d = dialog(page)
    rows = d.locator(".hist li")
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("Order #1023")

    d.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(20)
    d.get_by_role("button", name="Show more").click()

    expect(rows).to_have_count(23)
    expect(rows.last).to_contain_text("Order #1001")
    expect(d.get_by_role("button", name="Show more")).to_have_count(0)
    assert "GET /apps/beam/api/me?page=20" in fake.requests


def test_vip_progress_towards_next_tier(page: Page, fake: FakeServer) -> None:
    visit(page, fake)
    open_panel(page)

    bar = dialog(page).get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "1320")  # as me's tier block says
    expect(bar).to_have_attribute("aria-valuemax", "2000")
    expect(dialog(page).get_by_text("Earn 680 more points to reach Gold")).to_be_visible()
    expect(dialog(page).locator(".done")).to_contain_text("Done")


def test_a_tier_exclusive_reward_is_locked_below_its_tier(page: Page, fake: FakeServer) -> None:
    gold = {"name": "Gold", "rank": 1, "label": "Gold members"}
    fake.store.extra_rewards = [
        {**_reward("rw_gold", "Gold lunch", "fixed_amount", 100, "15.00"), "tier": gold}
    ]
    visit(page, fake)
    open_panel(page)
    card = dialog(page).locator(".rw", has_text="Gold lunch")
    expect(card.get_by_text("Gold members")).to_be_visible()
    expect(card.get_by_role("button")).to_have_count(0)  # nothing to redeem below Gold

    fake.store.tier = {**SILVER_BLOCK, "name": "Gold", "rank": 1, "next": None}
    page.reload()
    open_panel(page)
    card = dialog(page).locator(".rw", has_text="Gold lunch")
    card.get_by_role("button", name="Redeem: Gold lunch").click()
    card.get_by_role("button", name="Confirm: Gold lunch").click()
    expect(dialog(page).locator(".bal")).to_have_text("1,100 points")


def test_keyboard_only_walk(page: Page, fake: FakeServer) -> None:
    visit(page, fake)
    tab_to_launcher(page, 10)

    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_visible()
    expect(dialog(page)).to_have_attribute("aria-busy", "false")
    assert focused(page)["inDialog"]
    count = page.evaluate(
        """() => [...document.getElementById('beam-root').shadowRoot
           .querySelectorAll('[role=dialog] a[href], [role=dialog] button:not([disabled]),'
           + '[role=dialog] input')].length"""
    )
    seen = set()
    for _ in range(count + 3):
        page.keyboard.press("Tab")
        active = focused(page)
        assert active is not None and active["inDialog"], active
        seen.add((active["cls"], active["label"], active["text"]))
    assert len(seen) == count
    page.keyboard.press("Shift+Tab")
    assert focused(page)["inDialog"]

    page.keyboard.press("Escape")

    expect(dialog(page)).to_be_hidden()
    assert focused(page)["cls"].startswith("l")
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")


def test_deep_link_hash_and_rewards_links_open_the_panel(page: Page, fake: FakeServer) -> None:
    page.goto(f"{fake.base}/?customer={CUSTOMER_ID}#beam-rewards")
    expect(dialog(page)).to_be_visible()
    expect(dialog(page).locator(".bal")).to_have_text("1,200 points")
    page.keyboard.press("Escape")
    expect(dialog(page)).to_be_hidden()

    page.locator("#deep").click()

    expect(dialog(page)).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#deep")).to_be_focused()


def test_french_storefront_gets_french_strings(page: Page, fake: FakeServer) -> None:
    visit(page, fake, locale="fr", label="Fidélité")
    open_panel(page)
    d = dialog(page)

    expect(d.locator(".bal")).to_have_text(re.compile(r"^1\s200 points$"))
    expect(d.get_by_role("heading", name="Comment gagner des points")).to_be_visible()
    expect(d.get_by_role("button", name="Échanger: €5 off your order")).to_be_visible()
    expect(d.get_by_role("button", name="Fermer")).to_be_visible()
    expect(launcher(page)).to_have_accessible_name("Fidélité")
    assert any("beam-i18n-fr.js" in r for r in fake.requests)


def test_merchant_texts_override_built_in_strings(page: Page, fake: FakeServer) -> None:
    fake.store.texts = {
        "de": {"redeem_title": "Spend your beans", "title": "Bean Club"},
        "fr": {"redeem_title": "Not for German shoppers"},
    }
    visit(page, fake, locale="de")
    open_panel(page)
    d = dialog(page)

    expect(d.get_by_role("heading", name="Spend your beans")).to_be_visible()
    expect(d.get_by_role("heading", name="Bean Club")).to_be_visible()
    expect(d.get_by_role("heading", name="Punkte sammeln")).to_be_visible()
    expect(d).to_have_accessible_name("Bean Club")


def test_branding_position_shape_and_mobile_setting(page: Page, fake: FakeServer) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    visit(page, fake, position="bottom-left", shape="circle", icon="crown", color="%23e11d48")
    box = launcher(page).bounding_box()
    assert box == {"x": 20, "y": 800 - 20 - 56, "width": 56, "height": 56}
    assert launcher(page).evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(225, 29, 72)"
    expect(launcher(page).locator("span")).to_have_count(0)

    page.set_viewport_size({"width": 375, "height": 700})
    visit_hidden = f"{fake.base}/?customer={CUSTOMER_ID}&mobile=false#beam-rewards"
    page.goto(visit_hidden)
    expect(launcher(page)).to_be_hidden()
    expect(dialog(page)).to_be_visible()
    shot(page, "panel-mobile")
