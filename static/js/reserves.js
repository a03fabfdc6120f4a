/* In-browser check of a proof-of-reserves inclusion proof (treasury/merkle.py's scheme).
 * leaf = SHA256(salt || account || 0x00 || u64be(balance));
 * node = SHA256(left.hash || right.hash || u64be(left.sum) || u64be(right.sum)).
 * Plain JavaScript and the browser's SubtleCrypto; nothing leaves the browser. */
"use strict";

(function () {
  var MAX = 18446744073709551615n;

  function hexToBytes(hex) {
    if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/i.test(hex)) throw new Error("bad hex");
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }
  function bytesToHex(bytes) {
    return Array.from(new Uint8Array(bytes)).map(function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function u64(value) {
    var n = BigInt(value);
    if (n < 0n || n > MAX) throw new Error("sum out of range");
    var out = new Uint8Array(8);
    for (var i = 7; i >= 0; i--) { out[i] = Number(n & 255n); n >>= 8n; }
    return out;
  }
  function concat(parts) {
    var size = parts.reduce(function (s, p) { return s + p.length; }, 0);
    var out = new Uint8Array(size), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }

  async function verify(proof, publishedRoot) {
    var leaf = proof.leaf;
    var salt = hexToBytes(String(leaf.salt));
    if (salt.length !== 16) throw new Error("bad salt");
    var balance = BigInt(leaf.balance_sats);
    var hash = await sha256(concat([salt, new TextEncoder().encode(String(leaf.account)), new Uint8Array([0]), u64(balance)]));
    var sum = balance;
    for (var i = 0; i < proof.path.length; i++) {
      var step = proof.path[i];
      var sibling = hexToBytes(String(step.hash));
      var siblingSum = BigInt(step.sum);
      if (sibling.length !== 32 || siblingSum < 0n) throw new Error("bad sibling");
      if (step.side === "left") hash = await sha256(concat([sibling, hash, u64(siblingSum), u64(sum)]));
      else if (step.side === "right") hash = await sha256(concat([hash, sibling, u64(sum), u64(siblingSum)]));
      else throw new Error("bad side");
      sum += siblingSum;
    }
    return bytesToHex(hash) === publishedRoot && sum === BigInt(proof.total_sats);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("verifier");
    var input = document.getElementById("proof-file");
    var result = document.getElementById("verify-result");
    if (!box || !input || !result) return;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      file.text().then(function (text) {
        return verify(JSON.parse(text), box.getAttribute("data-root"));
      }).then(function (ok) {
        result.textContent = result.getAttribute(ok ? "data-ok" : "data-bad");
        result.className = ok ? "msg msg-success" : "msg msg-error";
        result.setAttribute("data-verified", ok ? "yes" : "no");
      }).catch(function () {
        result.textContent = result.getAttribute("data-invalid");
        result.className = "msg msg-error";
        result.setAttribute("data-verified", "no");
      });
    });
  });
})();
