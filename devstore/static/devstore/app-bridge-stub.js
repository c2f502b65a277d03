/* App Bridge stand-in for the devstore (demo and tests only; the real script comes from the
   platform's CDN). Load it in the embedded app: <script src=".../static/devstore/app-bridge-stub.js">.
   window.shopify.idToken() resolves to a fresh session token minted by the devstore. */
(function () {
  "use strict";
  if (window.shopify && window.shopify.__devstore !== true && window.shopify.idToken) return;
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

  window.shopify = {
    __devstore: true,
    config: { apiKey: meta ? meta.content : "", shop: shop, host: params.get("host") || "" },
    idToken: idToken,
    toast: { show: toastShow },
    loading: function () {}
  };
})();
