/* The devstore's store admin around an embedded app: what the platform's admin renders from
   the app's App Bridge (here the stand-in, app-bridge-stub.js, which documents the messages).
   - The app's navigation menu under its entry in the sidebar; the current item (the longest
     item path that prefixes the app's section path) has aria-current="page", else the app's
     entry has. The items are real links to this page with ?path=, so a middle click or a
     copied link opens the same app page; a plain click asks the app to navigate instead.
   - The app's title bar as the page header above the frame: its title, its actions as
     buttons (a click clicks the app's own element).
   - The contextual save bar over the top bar while the app shows one; its Save and Discard
     click the app's buttons.
   - This page's address follows the app's path (?path=), so a reload lands on the same page.
   Messages are taken only from the app frame at the app's origin (data-app-origin) and sent
   only to that origin. Loaded in <head>, before the frame exists, so no message is missed. */
(function () {
  "use strict";
  var CHANNEL = "devstore-app-bridge";
  var state = { menu: null, location: null, titleBar: null, saveBar: null };
  var connected = false;

  function byId(id) {
    return document.getElementById(id);
  }

  function appFrame() {
    return document.querySelector("iframe.ds-app-frame");
  }

  function appOrigin(frame) {
    return (frame && frame.getAttribute("data-app-origin")) || "";
  }

  function post(type, data) {
    var frame = appFrame();
    if (!connected || !frame || !frame.contentWindow) return;
    frame.contentWindow.postMessage({ channel: CHANNEL, type: type, data: data }, appOrigin(frame));
  }

  // --- navigation menu ----------------------------------------------------------------------

  function framePageUrl(appPath) {
    var base = byId("ds-app-home").getAttribute("href");
    return base + "?path=" + encodeURIComponent(appPath);
  }

  function pathOf(href) {
    var cut = href.search(/[?#]/);
    return cut === -1 ? href : href.slice(0, cut);
  }

  function covers(prefix, path) {
    if (!prefix || path.indexOf(prefix) !== 0) return false;
    return path.length === prefix.length || prefix.charAt(prefix.length - 1) === "/" ||
      path.charAt(prefix.length) === "/";
  }

  function markCurrent() {
    var home = byId("ds-app-home");
    var section = state.location && state.location.section;
    var best = null;
    var bestLength = -1;
    byId("ds-app-nav").querySelectorAll("a[data-app-href]").forEach(function (a) {
      a.removeAttribute("aria-current");
      var path = pathOf(a.getAttribute("data-app-href"));
      if (section && covers(path, section) && path.length > bestLength) {
        best = a;
        bestLength = path.length;
      }
    });
    home.removeAttribute("aria-current");
    if (best) best.setAttribute("aria-current", "page");
    else if (section) home.setAttribute("aria-current", "page");
  }

  function renderMenu() {
    var list = byId("ds-app-nav");
    var home = byId("ds-app-home");
    var menu = state.menu;
    list.textContent = "";
    if (menu && menu.home) home.setAttribute("data-app-href", menu.home.href);
    else home.removeAttribute("data-app-href");
    (menu ? menu.items : []).forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = framePageUrl(item.href);
      a.textContent = item.label;
      a.setAttribute("data-app-href", item.href);
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = list.children.length === 0;
    markCurrent();
  }

  // --- title bar ----------------------------------------------------------------------------

  function renderTitleBar() {
    var bar = state.titleBar;
    var frame = appFrame();
    var crumbs = byId("ds-title-bar-breadcrumbs");
    var actions = byId("ds-title-bar-actions");
    byId("ds-title-bar-title").textContent =
      (bar && bar.title) || (frame && frame.getAttribute("data-app-name")) || "";
    crumbs.textContent = "";
    actions.textContent = "";
    var list = bar ? bar.actions.slice() : [];
    // Secondary actions first, the primary one last (rightmost), as the admin lays them out.
    list.sort(function (a, b) {
      return (a.variant === "primary") - (b.variant === "primary") || a.index - b.index;
    });
    list.forEach(function (action) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = action.variant === "breadcrumb" ? "‹ " + action.label : action.label;
      button.disabled = !!action.disabled;
      button.className = "ds-title-bar-action" +
        (action.variant === "primary" ? " ds-title-bar-primary" : "") +
        (action.variant === "breadcrumb" ? " ds-title-bar-breadcrumb" : "");
      button.addEventListener("click", function () {
        post("titleBarAction", { index: action.index, label: action.label });
      });
      (action.variant === "breadcrumb" ? crumbs : actions).appendChild(button);
    });
  }

  // --- save bar -----------------------------------------------------------------------------

  function renderSaveBar() {
    var bar = state.saveBar;
    var el = byId("ds-save-bar");
    el.hidden = !bar;
    document.body.classList.toggle("ds-save-bar-shown", !!bar);
    if (!bar) return;
    ["save", "discard"].forEach(function (action) {
      var button = el.querySelector('[data-save-bar-action="' + action + '"]');
      var spec = bar[action];
      button.hidden = !spec;
      if (!spec) return;
      button.textContent = spec.label;
      button.disabled = !!(spec.disabled || spec.loading);
      button.setAttribute("aria-busy", spec.loading ? "true" : "false");
    });
  }

  function saveBarClick(evt) {
    var button = evt.target.closest && evt.target.closest("[data-save-bar-action]");
    var bar = state.saveBar;
    if (!button || !bar) return;
    var action = button.getAttribute("data-save-bar-action");
    if (action === "discard" && bar.discardConfirmation &&
        !window.confirm("Discard all unsaved changes?")) {
      return;
    }
    post("saveBarAction", { id: bar.id, action: action });
  }

  // --- this page's address ------------------------------------------------------------------

  function followAppPath() {
    var path = state.location && state.location.path;
    var url = new URL(window.location.href);
    if (path && path !== "/") url.searchParams.set("path", path);
    else url.searchParams.delete("path");
    if (url.href !== window.location.href) {
      window.history.replaceState(window.history.state, "", url.href);
    }
  }

  // --- wiring -------------------------------------------------------------------------------

  window.addEventListener("message", function (evt) {
    var frame = appFrame();
    if (!frame || evt.source !== frame.contentWindow || evt.origin !== appOrigin(frame)) return;
    var msg = evt.data;
    if (!msg || msg.channel !== CHANNEL) return;
    connected = true;
    if (msg.type === "navMenu") {
      state.menu = msg.data;
      renderMenu();
    } else if (msg.type === "location") {
      state.location = msg.data;
      markCurrent();
      followAppPath();
    } else if (msg.type === "titleBar") {
      state.titleBar = msg.data;
      renderTitleBar();
    } else if (msg.type === "saveBar") {
      state.saveBar = msg.data;
      renderSaveBar();
    }
  });

  document.addEventListener("click", function (evt) {
    if (evt.defaultPrevented) return;
    saveBarClick(evt);
    if (evt.button !== 0 || evt.metaKey || evt.ctrlKey || evt.shiftKey || evt.altKey) return;
    var link = evt.target.closest && evt.target.closest("a[data-app-href]");
    if (!link || !connected) return;  // before the app spoke: a plain load of the link
    evt.preventDefault();
    post("navigate", { href: link.getAttribute("data-app-href") });
  });
})();
