/* Beam analytics: 400 answers (a bad range or plan price) are swapped in like any other.
 * ("Export CSV" is an a[download]: navigation.js fetches it with the session token.)
 * No inline script. */
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
})();
