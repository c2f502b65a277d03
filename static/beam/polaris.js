/* What Polaris's React components do in the browser, for the server-rendered markup
 * (templates/polaris/): a Select shows its chosen option's label, a ProgressBar its value.
 * Values are set through the CSSOM, never as inline style attributes. */
(function () {
  "use strict";

  function enhance(root) {
    root.querySelectorAll(".Polaris-ProgressBar__Indicator[data-progress]").forEach(function (el) {
      el.style.setProperty("--pc-progress-bar-percent", el.getAttribute("data-progress"));
      el.style.setProperty("--pc-progress-bar-duration", "0ms");
    });
  }

  document.addEventListener("change", function (evt) {
    var select = evt.target;
    if (!select || !select.classList || !select.classList.contains("Polaris-Select__Input")) {
      return;
    }
    var shown = select.parentElement.querySelector(".Polaris-Select__SelectedOption");
    var option = select.options[select.selectedIndex];
    if (shown && option) {
      shown.textContent = option.textContent;
    }
  });

  document.addEventListener("reset", function (evt) {
    window.setTimeout(function () {
      evt.target.querySelectorAll(".Polaris-Select__Input").forEach(function (select) {
        select.dispatchEvent(new Event("change", { bubbles: true }));
      });
    }, 0);
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    enhance(evt.target || document);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  } else {
    enhance(document);
  }
})();
