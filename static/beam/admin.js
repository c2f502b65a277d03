/* Beam embedded admin behaviour (no inline scripts: the CSP forbids them).
 * - Toasts: the server sends HX-Trigger {"beam:toast": {"message": …}}; App Bridge shows it
 *   (window.shopify.toast), else a small live region does.
 * - Save bar: a form marked data-beam-save-bar that has unsaved edits shows App Bridge's
 *   save bar (shopify.saveBar) whose Save/Discard submit or reset that form; a link that
 *   would leave it asks for confirmation first.
 * - Back/forward to an htmx-pushed address load it as a document (through the bounce).
 * - Branding's preview as a desktop or a phone shows the store (the choice is kept for the
 *   tab's session); the desktop page is scaled to the column through the CSSOM. */
(function () {
  "use strict";

  var dirtyForm = null;

  function bridge() {
    return window.shopify || null;
  }

  function toast(message) {
    if (!message) {
      return;
    }
    var b = bridge();
    if (b && b.toast && typeof b.toast.show === "function") {
      b.toast.show(message);
      return;
    }
    var region = document.getElementById("beam-toasts");
    if (!region) {
      return;
    }
    var el = document.createElement("div");
    el.className = "Polaris-Frame-Toast beam-toast";
    el.textContent = message;
    region.appendChild(el);
    window.setTimeout(function () { el.remove(); }, 3000);
  }

  function saveBar(show) {
    var b = bridge();
    if (b && b.saveBar && typeof b.saveBar.show === "function") {
      (show ? b.saveBar.show : b.saveBar.hide).call(b.saveBar, "beam-save-bar");
    }
  }


  document.addEventListener("beam:toast", function (evt) {
    toast(evt.detail && evt.detail.message);
  });

  document.addEventListener("input", function (evt) {
    var form = evt.target && evt.target.closest && evt.target.closest("form[data-beam-save-bar]");
    if (form && form !== dirtyForm) {
      dirtyForm = form;
      saveBar(true);
    }
  });

  document.addEventListener("change", function (evt) {
    var form = evt.target && evt.target.name === "kind" && evt.target.closest("form[data-reward-kind]");
    if (form) {
      form.setAttribute("data-reward-kind", evt.target.value);
    }
  });

  document.addEventListener("submit", function (evt) {
    if (evt.target === dirtyForm) {
      dirtyForm = null;
      saveBar(false);
    }
  });

  document.addEventListener("click", function (evt) {
    var id = evt.target && evt.target.id;
    if (id === "beam-save-bar-save" && dirtyForm) {
      dirtyForm.requestSubmit();
    } else if (id === "beam-save-bar-discard" && dirtyForm) {
      dirtyForm.reset();
      dirtyForm = null;
      saveBar(false);
    }
  });

  // A link that leaves a form with unsaved edits asks first (App Bridge's leave
  // confirmation, else the browser's confirm); without it the edits were dropped silently.
  function leaveConfirmed() {
    var b = bridge();
    if (b && b.saveBar && typeof b.saveBar.leaveConfirmation === "function") {
      return b.saveBar.leaveConfirmation().then(function () { return true; }, function () { return false; });
    }
    return Promise.resolve(window.confirm("Leave this page? Your unsaved changes will be lost."));
  }

  // Resolves true when nothing unsaved would be lost or the merchant chose to leave (the
  // edits are then dropped); navigation.js asks it too before following App Bridge's menu.
  function leaveGuard() {
    if (!dirtyForm || !document.body.contains(dirtyForm)) {
      return Promise.resolve(true);
    }
    return leaveConfirmed().then(function (leave) {
      if (leave) {
        dirtyForm = null;
        saveBar(false);
      }
      return leave;
    });
  }
  window.beam = window.beam || {};
  window.beam.leaveGuard = leaveGuard;

  document.addEventListener("click", function (evt) {
    var link = evt.target && evt.target.closest && evt.target.closest("a[href]");
    if (!dirtyForm || !link || dirtyForm.contains(link) || link.hasAttribute("download") ||
        !document.body.contains(dirtyForm)) {
      return;
    }
    evt.preventDefault();
    evt.stopImmediatePropagation();
    leaveGuard().then(function (leave) {
      if (leave) {
        link.click();
      }
    });
  }, true);

  document.addEventListener("htmx:afterSettle", function () {
    if (dirtyForm && !document.body.contains(dirtyForm)) {
      dirtyForm = null;
      saveBar(false);
    }
  });

  // Back/forward to an address htmx pushed: htmx keeps no snapshots here (historyCacheSize
  // 0: no customer data in localStorage) and its own restore request cannot carry a session
  // token. So cancel it and load the address as a document: it bounces for a token (the
  // address keeps the shop, see navigation.js) and lands whole, Home and Analytics included
  // (they have no partial to swap into <main>).
  document.addEventListener("htmx:historyCacheMiss", function (evt) {
    evt.preventDefault();
    window.location.reload();
  });

  var DESKTOP_WIDTH = 1024;  // admin.css draws the desktop page this wide

  function previewShow(column, device) {
    column.setAttribute("data-preview-device", device);
    column.querySelectorAll("button[data-preview-device]").forEach(function (b) {
      var on = b.getAttribute("data-preview-device") === device;
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.classList.toggle("Polaris-Button--pressed", on);
    });
    var viewport = column.querySelector(".beam-preview-viewport");
    if (viewport && viewport.clientWidth) {
      column.style.setProperty("--beam-preview-scale", String(viewport.clientWidth / DESKTOP_WIDTH));
    }
  }

  function previewsShow() {
    var device = null;
    try { device = window.sessionStorage.getItem("beam:preview-device"); } catch (e) { /* off */ }
    document.querySelectorAll(".beam-preview-column[data-preview-device]").forEach(function (c) {
      previewShow(c, device || c.getAttribute("data-preview-device"));
    });
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target && evt.target.closest && evt.target.closest("button[data-preview-device]");
    var column = button && button.closest(".beam-preview-column");
    if (!column) {
      return;
    }
    var device = button.getAttribute("data-preview-device");
    try { window.sessionStorage.setItem("beam:preview-device", device); } catch (e) { /* off */ }
    previewShow(column, device);
  });
  document.addEventListener("htmx:afterSettle", previewsShow);
  window.addEventListener("resize", previewsShow);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", previewsShow);
  } else {
    previewsShow();
  }
})();
