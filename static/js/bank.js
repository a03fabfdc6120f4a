/* Alatau web banking: small progressive enhancements. Every page works without them. */
"use strict";

/* Copy buttons: <button data-copy="text">. */
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var text = button.getAttribute("data-copy");
  var done = function () {
    var label = button.textContent;
    button.textContent = button.getAttribute("data-copied") || "✓";
    button.setAttribute("aria-live", "polite");
    setTimeout(function () { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    done();
  }
});

/* Countdown of an exchange quote: <div data-countdown="seconds">. */
function startCountdown(box) {
  var left = parseInt(box.getAttribute("data-countdown"), 10);
  var shown = box.querySelector("[data-countdown-left]");
  var button = box.querySelector("[data-countdown-button]");
  var expired = box.querySelector("[data-countdown-expired]");
  var deadline = Date.now() + left * 1000;
  var tick = function () {
    left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    if (shown) shown.textContent = String(left);
    if (left === 0) {
      if (button) button.disabled = true;
      if (expired) expired.hidden = false;
      return;
    }
    setTimeout(tick, 250);
  };
  tick();
}

/* Live tables: <table id="x" data-live="seconds"> reloads itself from the same page. */
function startLive(table) {
  var every = Math.max(5, parseInt(table.getAttribute("data-live"), 10)) * 1000;
  var refresh = function () {
    if (document.hidden) { setTimeout(refresh, every); return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "live" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(table.id);
          if (fresh) table.innerHTML = fresh.innerHTML;
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(refresh, every); });
  };
  setTimeout(refresh, every);
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-countdown]").forEach(startCountdown);
  document.querySelectorAll("table[data-live][id]").forEach(startLive);
});
