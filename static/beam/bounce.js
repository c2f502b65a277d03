/* Beam bounce page: get a fresh session token and reload the requested page with it.
 * Gives up (and says so) after three bounces within ten seconds, so a broken token source
 * never loops. Needs session.js (window.beam.idToken). */
(function () {
  "use strict";

  var root = document.getElementById("beam-bounce");
  if (!root || !window.beam || typeof window.beam.idToken !== "function") {
    return;
  }
  var KEY = "beam.bounces";
  var now = Date.now();
  var recent = [];
  try {
    recent = JSON.parse(window.sessionStorage.getItem(KEY) || "[]").filter(function (t) {
      return now - t < 10000;
    });
  } catch (err) {
    recent = [];
  }

  function fail() {
    var message = root.querySelector(".beam-bounce-failed");
    if (message) {
      message.hidden = false;
    }
  }

  if (recent.length >= 3) {
    fail();
    return;
  }
  recent.push(now);
  try {
    window.sessionStorage.setItem(KEY, JSON.stringify(recent));
  } catch (err) {
    /* storage blocked in this frame: the loop guard is best effort */
  }

  window.beam.idToken().then(function (token) {
    if (!token) {
      throw new Error("Beam: empty session token");
    }
    var url = new URL(root.getAttribute("data-reload-url") || "/", window.location.href);
    url.searchParams.set("id_token", token);
    window.location.replace(url.toString());
  }).catch(fail);
})();
