/* Beam analytics: 400 answers (a bad range or plan price) are swapped in like any other,
 * and "Export CSV" downloads with the session token (Authorization header)
 * instead of navigating the embedded frame. Without script the link still works: the
 * document request bounces for a fresh token and the CSV downloads. No inline script. */
(function () {
  "use strict";

  // A 400 of the analytics views carries the form with its error message: show it.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var detail = evt.detail;
    if (detail && detail.xhr && detail.xhr.status === 400 &&
        detail.target && detail.target.id === "analytics-body") {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("a[data-beam-download]");
    if (!link || !window.beam || typeof window.beam.idToken !== "function") {
      return;
    }
    evt.preventDefault();
    window.beam.idToken().then(function (token) {
      return fetch(link.href, { headers: { Authorization: "Bearer " + token } });
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("Beam: export answered " + response.status);
      }
      return response.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var a = document.createElement("a");
      a.href = url;
      a.download = link.getAttribute("data-beam-download") || "beam-analytics.csv";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    }).catch(function () {
      window.location.href = link.href;
    });
  });
})();
