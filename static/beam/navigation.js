/* Beam embedded admin: every navigation lands, every export downloads.
 *
 * Document loads authenticate one way only: the `id_token` query parameter, which the
 * platform adds when it loads the app and the bounce page adds when it reloads a URL that
 * came without one. The bounce page may be framed only by a named shop's admin, so every
 * admin URL must keep the platform's `shop` (and `host`, `embedded`) parameters:
 * - a click on a plain same-origin link (not one htmx handles) loads the link with them;
 * - the address of the page (after a document load or an htmx push) is rewritten to carry
 *   them and to drop the one-minute token and the app-load signature, so a reload, a
 *   back/forward step or a copied deep link goes through the bounce and lands again.
 * Downloads (`a[download]`, the CSV exports) are fetched with the session token in the
 * Authorization header, like htmx requests, and saved from the response: a document
 * navigation would save the bounce page instead of the file, and no token ever sits in a
 * download URL.
 * App Bridge's navigation menu and title-bar links: a click in the store admin arrives as a
 * `shopify:navigate` event on the menu's (or title bar's) <a>. Beam routes it itself, like its
 * own links: first the unsaved-edits question (admin.js, window.beam.leaveGuard), then an
 * htmx load into #beam-main with the address pushed, or a document load for the pages that
 * have no partial for #beam-main (Home, Analytics).
 * Needs session.js (window.beam.idToken). No inline script: the CSP forbids it. */
(function () {
  "use strict";

  var KEPT = ["shop", "host", "embedded"];
  // Pages loaded as documents (their links have no hx-get): Home and Analytics.
  var DOCUMENT_PAGES = ["/admin/", "/admin/analytics/"];
  var DROPPED = ["id_token", "hmac", "signature", "timestamp"];
  var here = new URL(window.location.href);
  var meta = document.querySelector('meta[name="beam-shop"]');
  var appParams = {};
  KEPT.forEach(function (key) {
    var value = here.searchParams.get(key);
    if (value) {
      appParams[key] = value;
    }
  });
  if (meta && meta.content) {
    appParams.shop = meta.content;
  }

  function withAppParams(href) {
    var url = new URL(href, window.location.href);
    DROPPED.forEach(function (key) { url.searchParams.delete(key); });
    KEPT.forEach(function (key) {
      if (appParams[key] && !url.searchParams.has(key)) {
        url.searchParams.set(key, appParams[key]);
      }
    });
    return url;
  }

  function tidyAddress() {
    var url = withAppParams(window.location.href);
    if (url.href !== window.location.href) {
      window.history.replaceState(window.history.state, "", url.href);
    }
  }

  function toast(message) {
    document.dispatchEvent(new CustomEvent("beam:toast", { detail: { message: message } }));
  }

  function filenameOf(response, link) {
    var disposition = response.headers.get("Content-Disposition") || "";
    var match = /filename="?([^";]+)"?/.exec(disposition);
    return (match && match[1]) || link.getAttribute("download") || "beam-export.csv";
  }

  function download(link) {
    window.beam.idToken().then(function (token) {
      return fetch(link.href, {
        credentials: "same-origin",
        headers: { Authorization: "Bearer " + token }
      });
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("Beam: export answered " + response.status);
      }
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = document.createElement("a");
        a.href = url;
        a.download = filenameOf(response, link);
        a.hidden = true;
        document.body.appendChild(a);
        a.click();
        a.remove();
        window.setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      });
    }).catch(function () {
      toast("The export could not be downloaded. Try again.");
    });
  }

  document.addEventListener("click", function (evt) {
    if (evt.defaultPrevented || evt.button !== 0 || evt.metaKey || evt.ctrlKey ||
        evt.shiftKey || evt.altKey) {
      return;
    }
    var link = evt.target && evt.target.closest && evt.target.closest("a[href]");
    if (!link || (link.target && link.target !== "_self")) {
      return;
    }
    var url = new URL(link.href, window.location.href);
    var samePage = url.pathname === window.location.pathname && url.search === window.location.search;
    if (url.origin !== window.location.origin || !/^https?:$/.test(url.protocol) ||
        (samePage && url.hash)) {
      return;
    }
    evt.preventDefault();
    if (link.hasAttribute("download") && window.beam && window.beam.idToken) {
      download(link);
      return;
    }
    window.location.assign(withAppParams(url.href).href);
  });

  function follow(url) {
    var main = document.getElementById("beam-main");
    if (DOCUMENT_PAGES.indexOf(url.pathname) !== -1 || !window.htmx || !main) {
      window.location.assign(withAppParams(url.href).href);
      return;
    }
    var path = url.pathname + url.search;
    window.htmx.ajax("GET", path, { source: main, target: main, push: path });
  }

  document.addEventListener("shopify:navigate", function (evt) {
    var href = evt.target && evt.target.getAttribute && evt.target.getAttribute("href");
    if (!href) {
      return;
    }
    var url = new URL(href, window.location.href);
    if (url.origin !== window.location.origin) {
      return;  // not Beam's page: App Bridge loads it
    }
    evt.preventDefault();
    var guard = window.beam && window.beam.leaveGuard;
    (guard ? guard() : Promise.resolve(true)).then(function (leave) {
      if (leave) {
        follow(url);
      }
    });
  });

  document.addEventListener("htmx:pushedIntoHistory", tidyAddress);
  document.addEventListener("htmx:replacedInHistory", tidyAddress);
  tidyAddress();

  // This page landed: the bounce page's loop guard starts afresh for the next navigation.
  try {
    window.sessionStorage.removeItem("beam.bounces");
  } catch (err) {
    /* storage blocked in this frame: the guard is best effort */
  }
})();
