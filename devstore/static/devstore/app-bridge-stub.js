/* App Bridge stand-in for the devstore (demo and tests only; the real script comes from the
   platform's CDN). Load it in the embedded app: <script src=".../static/devstore/app-bridge-stub.js">.

   What it does, like the platform's App Bridge:
   - window.shopify.idToken() resolves to a fresh session token minted by the devstore;
     toast.show(message) and loading() as before.
   - Navigation menu: the document's <ui-nav-menu> (its first <a rel="home"> is the app's home
     and is not listed; every other <a> is an item, in order) is shown in the store admin's
     left sidebar, under the app's entry.
   - Title bar: the current <ui-title-bar title="…"> and its <a>/<button> children (text,
     variant, href, disabled) are shown as the admin's page header above the frame.
   - Save bar: shopify.saveBar.show/hide/toggle(id) and the <ui-save-bar> element's show(),
     hide(), toggle() and `showing` put the admin's contextual save bar up or down; its Save
     and Discard click the <ui-save-bar>'s primary button and its button without a variant.
   - A menu item or a title-bar link clicked in the admin dispatches a bubbling, cancelable
     `shopify:navigate` event on the matching <a> here (client-side routers call
     preventDefault and route themselves); when nobody does, the frame loads the href with
     the current `shop`, `host` and `embedded` parameters.
   - The app's address is reported to the admin after every load, history.pushState/
     replaceState (htmx pushes through them) and popstate, so the admin marks the current
     menu item (the longest item href that prefixes the path) and keeps the app's path in its
     own address (a reload of the admin lands on the same app page).
   Stand-in convenience, not the platform's API: the real App Bridge matches the current menu
   item by URL only. Here a page that belongs to a section whose URL is not its own (a tab of
   "Ways to earn", say) declares it on its title bar or on an element of its main content
   (Beam's section tabs carry it):
       <ui-title-bar title="Bonus events" data-nav-section="/admin/earning/">
   and that path is matched instead of location.pathname. The attribute sits in the page
   content htmx swaps (a <meta> in <head> would keep the first page's value across swaps).

   Messages (window.postMessage, {channel: "devstore-app-bridge", type, data}):
     to the admin:   navMenu {home, items: [{label, href}]}, titleBar {title, actions},
                     location {path, section}, saveBar null | {id, save, discard, ...}
     from the admin: navigate {href}, titleBarAction {index, label},
                     saveBarAction {id, action: "save" | "discard"}
   Origins are checked both ways: messages go only to the store admin's origin and are taken
   only from the parent window at that origin. The admin's origin comes from the `host`
   parameter (base64 of the admin's host and path, as the platform passes it; the scheme is
   the app's own) and is remembered for the frame's later loads that come without `host`. */
(function () {
  "use strict";
  if (window.shopify && window.shopify.__devstore !== true && window.shopify.idToken) return;
  var CHANNEL = "devstore-app-bridge";
  var KEPT = ["shop", "host", "embedded"];
  var PLATFORM_PARAMS = ["embedded", "hmac", "host", "id_token", "locale", "session", "shop", "timestamp"];
  var script = document.currentScript;
  var origin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var params = new URLSearchParams(location.search);
  var shop = (script && script.dataset.shop) || params.get("shop") || "";
  try {
    if (shop) sessionStorage.setItem("devstore-shop", shop);
    else shop = sessionStorage.getItem("devstore-shop") || "";
  } catch (e) { /* storage blocked: keep the query value */ }
  var meta = document.querySelector('meta[name="shopify-api-key"]');
  var pending = null;

  function idToken() {
    if (!shop) return Promise.reject(new Error("devstore app bridge: unknown shop"));
    if (pending) return pending;
    var url = origin + "/devstore/" + encodeURIComponent(shop) + "/admin/session-token";
    pending = fetch(url, { credentials: "omit", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("devstore session token: HTTP " + r.status);
        return r.json();
      })
      .then(function (body) { return body.token; })
      .finally(function () { pending = null; });
    return pending;
  }

  function toastShow(message) {
    var el = document.createElement("div");
    el.setAttribute("role", "status");
    el.textContent = message;
    el.style.cssText = "position:fixed;bottom:1rem;left:50%;transform:translateX(-50%);" +
      "background:#1a1a1a;color:#fff;padding:.5rem 1rem;border-radius:6px;z-index:9999";
    document.body.appendChild(el);
    setTimeout(function () { el.remove(); }, 3000);
  }

  // --- the admin around the frame -------------------------------------------------------

  function originOfHost(value) {
    if (!value) return "";
    try {
      var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
      while (b64.length % 4) b64 += "=";
      var host = atob(b64).split("/")[0];
      if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/.test(host)) return "";
      return new URL(location.protocol + "//" + host).origin;
    } catch (e) {
      return "";
    }
  }

  var adminOrigin = originOfHost(params.get("host"));
  try {
    if (adminOrigin) sessionStorage.setItem("devstore-admin-origin", adminOrigin);
    else adminOrigin = sessionStorage.getItem("devstore-admin-origin") || "";
  } catch (e) { /* storage blocked: only a load with `host` reaches the admin */ }
  var framed = window.parent !== window;
  // The browser names the parent's origin where it can: a parent that is not the expected
  // admin gets nothing (and posting to it would only log a mismatch).
  if (framed && location.ancestorOrigins && location.ancestorOrigins.length &&
      location.ancestorOrigins[0] !== adminOrigin) {
    framed = false;
  }

  function send(type, data) {
    if (!framed || !adminOrigin) return;
    window.parent.postMessage({ channel: CHANNEL, type: type, data: data }, adminOrigin);
  }

  function text(el) {
    return (el.textContent || "").replace(/\s+/g, " ").trim();
  }

  // An app-relative href (path, query, hash) for a same-origin link; "" for anything else.
  function appHref(el) {
    var raw = el.getAttribute("href");
    if (!raw) return "";
    var url = new URL(raw, location.href);
    if (url.origin !== location.origin) return "";
    return url.pathname + url.search + url.hash;
  }

  function withKeptParams(href) {
    var url = new URL(href, location.href);
    var here = new URLSearchParams(location.search);
    KEPT.forEach(function (key) {
      var value = here.get(key) || (key === "shop" ? shop : "");
      if (value && !url.searchParams.has(key)) url.searchParams.set(key, value);
    });
    return url.href;
  }

  function navMenuLinks() {
    var menu = document.querySelector("ui-nav-menu");
    if (!menu) return null;
    var home = null;
    var items = [];
    Array.prototype.forEach.call(menu.querySelectorAll("a[href]"), function (a) {
      if (!appHref(a)) return;
      if (!home && a.getAttribute("rel") === "home") home = a;
      else items.push(a);
    });
    return { home: home, items: items };
  }

  function readNavMenu() {
    var links = navMenuLinks();
    if (!links) return null;
    function entry(a) { return { label: text(a), href: appHref(a) }; }
    return { home: links.home ? entry(links.home) : null, items: links.items.map(entry) };
  }

  function titleBar() {
    return document.querySelector("ui-title-bar");
  }

  function titleActions(bar) {
    return Array.prototype.slice.call(bar.querySelectorAll("a, button"));
  }

  function readTitleBar() {
    var bar = titleBar();
    if (!bar) return { title: null, actions: [] };
    return {
      title: bar.getAttribute("title") || "",
      actions: titleActions(bar).map(function (el, index) {
        var link = el.tagName === "A";
        return {
          index: index,
          label: text(el),
          variant: el.getAttribute("variant") || "",
          href: link ? appHref(el) || null : null,
          disabled: el.hasAttribute("disabled") || el.getAttribute("aria-disabled") === "true"
        };
      })
    };
  }

  function readLocation() {
    var query = new URLSearchParams(location.search);
    PLATFORM_PARAMS.forEach(function (key) { query.delete(key); });
    var search = query.toString();
    var marker = document.querySelector("ui-title-bar[data-nav-section]") ||
      document.querySelector("#beam-main [data-nav-section], main [data-nav-section]");
    var declared = marker && marker.getAttribute("data-nav-section");
    return {
      path: location.pathname + (search ? "?" + search : ""),
      section: declared && declared.charAt(0) === "/" ? declared : location.pathname
    };
  }

  // --- save bar ---------------------------------------------------------------------------

  var shownSaveBarId = null;

  function saveBarButtons(bar) {
    var buttons = Array.prototype.slice.call(bar.querySelectorAll("button"));
    return {
      save: buttons.filter(function (b) { return b.getAttribute("variant") === "primary"; })[0] || null,
      discard: buttons.filter(function (b) { return !b.getAttribute("variant"); })[0] || null
    };
  }

  function shownSaveBar() {
    if (!shownSaveBarId) return null;
    var bar = document.getElementById(shownSaveBarId);
    return bar && bar.tagName === "UI-SAVE-BAR" ? bar : null;
  }

  function readSaveBar() {
    var bar = shownSaveBar();
    if (!bar) return null;
    var buttons = saveBarButtons(bar);
    function describe(button, fallback) {
      if (!button) return null;
      return {
        label: text(button) || fallback,
        disabled: button.disabled,
        loading: button.hasAttribute("loading")
      };
    }
    return {
      id: bar.id,
      save: describe(buttons.save, "Save"),
      discard: describe(buttons.discard, "Discard"),
      discardConfirmation: bar.hasAttribute("discardConfirmation")
    };
  }

  function saveBarSet(bar, show) {
    if (!bar || !bar.id) return Promise.resolve();
    var was = shownSaveBarId === bar.id;
    if (show) shownSaveBarId = bar.id;
    else if (was) shownSaveBarId = null;
    if (was !== show) bar.dispatchEvent(new Event(show ? "show" : "hide"));
    sync();
    return Promise.resolve();
  }

  function saveBarById(id) {
    var bar = document.getElementById(id);
    return bar && bar.tagName === "UI-SAVE-BAR" ? bar : null;
  }

  if (window.customElements && !window.customElements.get("ui-save-bar")) {
    window.customElements.define("ui-save-bar", class extends HTMLElement {
      show() { return saveBarSet(this, true); }
      hide() { return saveBarSet(this, false); }
      toggle() { return saveBarSet(this, shownSaveBarId !== this.id); }
      get showing() { return shownSaveBarId === this.id; }
    });
  }

  var saveBar = {
    show: function (id) { return saveBarSet(saveBarById(id), true); },
    hide: function (id) { return saveBarSet(saveBarById(id), false); },
    toggle: function (id) {
      var bar = saveBarById(id);
      return saveBarSet(bar, !!bar && shownSaveBarId !== bar.id);
    }
  };

  // --- state to the admin, commands from it ---------------------------------------------

  var sent = {};
  function sendChanged(type, data) {
    var json = JSON.stringify(data);
    if (sent[type] === json) return;
    sent[type] = json;
    send(type, data);
  }

  function sync() {
    if (!document.body) return;
    var menu = readNavMenu();
    if (menu) sendChanged("navMenu", menu);  // a page without one (the bounce) keeps the last
    sendChanged("titleBar", readTitleBar());
    sendChanged("saveBar", readSaveBar());
    sendChanged("location", readLocation());
  }

  var scheduled = false;
  function scheduleSync() {
    if (scheduled) return;
    scheduled = true;
    Promise.resolve().then(function () {
      scheduled = false;
      sync();
    });
  }

  function navigate(el, href) {
    var evt = new CustomEvent("shopify:navigate", { bubbles: true, cancelable: true });
    if (el.dispatchEvent(evt)) location.assign(withKeptParams(href));
  }

  function onNavigate(data) {
    var links = navMenuLinks();
    if (!links || !data || typeof data.href !== "string") return;
    var all = (links.home ? [links.home] : []).concat(links.items);
    var link = all.filter(function (a) { return appHref(a) === data.href; })[0];
    if (link) navigate(link, link.href);
  }

  function onTitleBarAction(data) {
    var bar = titleBar();
    if (!bar || !data) return;
    var el = titleActions(bar)[data.index];
    if (!el || text(el) !== data.label || el.hasAttribute("disabled")) return;
    if (el.tagName === "A" && appHref(el)) navigate(el, el.href);
    else el.click();
  }

  function onSaveBarAction(data) {
    var bar = shownSaveBar();
    if (!bar || !data || bar.id !== data.id) return;
    var button = saveBarButtons(bar)[data.action === "save" ? "save" : "discard"];
    if (button && !button.disabled) button.click();
  }

  window.addEventListener("message", function (evt) {
    if (!framed || evt.source !== window.parent || evt.origin !== adminOrigin) return;
    var msg = evt.data;
    if (!msg || msg.channel !== CHANNEL) return;
    if (msg.type === "navigate") onNavigate(msg.data);
    else if (msg.type === "titleBarAction") onTitleBarAction(msg.data);
    else if (msg.type === "saveBarAction") onSaveBarAction(msg.data);
  });

  if (framed && adminOrigin) {
    ["pushState", "replaceState"].forEach(function (name) {
      var original = history[name];
      history[name] = function () {
        var result = original.apply(this, arguments);
        scheduleSync();
        return result;
      };
    });
    window.addEventListener("popstate", scheduleSync);
    window.addEventListener("hashchange", scheduleSync);
    // The next document starts without a save bar (its own may show one again).
    window.addEventListener("pagehide", function () { send("saveBar", null); });
    window.addEventListener("pageshow", function (evt) {
      if (evt.persisted) {  // back from the back/forward cache: the admin moved on meanwhile
        sent = {};
        sync();
      }
    });
    var start = function () {
      new MutationObserver(scheduleSync).observe(document.documentElement, {
        childList: true,
        subtree: true,
        characterData: true,
        attributes: true,
        attributeFilter: ["title", "href", "rel", "variant", "disabled", "aria-disabled",
                          "loading", "id", "data-nav-section"]
      });
      sync();
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }

  window.shopify = {
    __devstore: true,
    config: { apiKey: meta ? meta.content : "", shop: shop, host: params.get("host") || "" },
    idToken: idToken,
    toast: { show: toastShow },
    loading: function () {},
    saveBar: saveBar
  };
})();
