// The till's charge screen: poll the small status endpoint and tick the steps.
(function () {
  var root = document.getElementById("charge");
  if (!root) return;
  var url = root.getAttribute("data-status-url");
  var texts = {};
  document.getElementById("stage-texts").content.querySelectorAll("[data-stage]").forEach(function (el) {
    texts[el.getAttribute("data-stage")] = el.textContent;
  });
  function mark(id, done) { document.getElementById(id).classList.toggle("done", !!done); }
  function show(s) {
    root.setAttribute("data-stage", s.stage);
    document.getElementById("big-status").textContent = texts[s.stage] || s.stage;
    mark("step-seen", s.seen); mark("step-confirmed", s.confirmed); mark("step-settled", s.settled);
    document.getElementById("confs").textContent =
      s.method === "on-chain" && s.seen ? "(" + s.confirmations + "/" + s.required + " " + texts.confs + ")" : "";
    document.getElementById("kzt").textContent = s.kzt ? "→ " + s.kzt + " KZT" : "";
    if (final(s.stage)) {
      document.getElementById("pay-card").hidden = true;
      var left = document.getElementById("time-left");
      if (left) left.hidden = true;
    }
  }
  function final(stage) { return stage === "settled" || stage === "expired" || stage === "invalid"; }
  function poll() {
    fetch(url, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) { show(s); if (!final(s.stage)) setTimeout(poll, 2000); })
      .catch(function () { setTimeout(poll, 10000); });
  }
  if (!final(root.getAttribute("data-stage"))) setTimeout(poll, 1000);
  var el = document.getElementById("countdown");
  if (el) {
    var left = parseInt(el.getAttribute("data-seconds"), 10);
    (function tick() {
      if (final(root.getAttribute("data-stage"))) return;
      if (left <= 0) { el.textContent = "0:00"; return; }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      left -= 1; setTimeout(tick, 1000);
    })();
  }
})();
