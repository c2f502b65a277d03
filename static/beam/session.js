/* Beam embedded admin: a fresh session token on every htmx request.
 *
 * The token comes from App Bridge (window.shopify.idToken(), production), from the parent
 * frame's App Bridge stand-in (the devstore), or from the devstore's token endpoint named
 * in <meta name="beam-session-token-url">. No inline script: the CSP forbids it. */
(function () {
  "use strict";

  var RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request";
  var currentToken = "";

  function bridgeOf(win) {
    try {
      if (win && win.shopify && typeof win.shopify.idToken === "function") {
        return win.shopify;
      }
    } catch (err) {
      /* a cross-origin parent: not ours to read */
    }
    return null;
  }

  function tokenFromEndpoint(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("Beam: session token endpoint answered " + response.status);
        }
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("json") === -1) {
          return response.text().then(function (text) { return text.trim(); });
        }
        return response.json().then(function (data) {
          return data.token || data.id_token || data.idToken || data.session_token || "";
        });
      });
  }

  function idToken() {
    var bridge = bridgeOf(window) || (window.parent !== window ? bridgeOf(window.parent) : null);
    if (bridge) {
      return Promise.resolve(bridge.idToken());
    }
    var meta = document.querySelector('meta[name="beam-session-token-url"]');
    if (meta && meta.content) {
      return tokenFromEndpoint(meta.content);
    }
    return Promise.reject(new Error("Beam: no session token source"));
  }

  window.beam = window.beam || {};
  window.beam.idToken = idToken;

  // htmx:configRequest is synchronous, so the (asynchronous) token is fetched while the
  // request waits in htmx:confirm, then the request is issued.
  document.addEventListener("htmx:confirm", function (evt) {
    var detail = evt.detail;
    if (!detail || typeof detail.issueRequest !== "function") {
      return;
    }
    evt.preventDefault();
    idToken().then(function (token) {
      currentToken = token || "";
    }, function () {
      currentToken = "";
    }).then(function () {
      if (detail.question && !window.confirm(detail.question)) {
        return;
      }
      detail.issueRequest(true);
    });
  });

  document.addEventListener("htmx:configRequest", function (evt) {
    if (currentToken) {
      evt.detail.headers.Authorization = "Bearer " + currentToken;
    }
  });

  // A token the server refused: reload the page, which bounces for a fresh one.
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail && evt.detail.xhr;
    if (xhr && xhr.status === 401 && xhr.getResponseHeader(RETRY_HEADER) === "1") {
      window.location.reload();
    }
  });
})();
