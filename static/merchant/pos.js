// The till's keypad and item list. Amounts stay decimal strings: no float arithmetic.
(function () {
  var form = document.getElementById("till");
  if (!form) return;
  var amount = document.getElementById("till-amount");
  var cur = document.getElementById("till-cur");
  var list = document.getElementById("item-list");
  var itemsJson = document.getElementById("till-items-json");
  var totalLine = document.getElementById("till-total-line");
  var total = document.getElementById("till-total");
  var items = [];

  function currency() { return form.querySelector("input[name=currency]:checked").value; }
  function places() { return currency() === "BTC" ? 8 : 2; }
  // Decimal string -> integer of minor units (BigInt), or null when not an amount.
  function toMinor(text) {
    var m = /^(\d{1,16})(?:\.(\d*))?$/.exec(text);
    if (!m) return null;
    var frac = (m[2] || "");
    if (frac.length > places()) return null;
    while (frac.length < places()) frac += "0";
    return BigInt(m[1]) * (BigInt(10) ** BigInt(places())) + BigInt(frac || "0");
  }
  function fromMinor(minor) {
    var s = minor.toString().padStart(places() + 1, "0");
    return s.slice(0, -places()) + "." + s.slice(-places());
  }
  function refresh() {
    cur.textContent = currency();
    itemsJson.value = items.length ? JSON.stringify(items) : "";
    list.innerHTML = "";
    var sum = BigInt(0);
    items.forEach(function (item, i) {
      sum += toMinor(item.price) || BigInt(0);
      var li = document.createElement("li");
      var name = document.createElement("span"); name.textContent = item.name;
      var price = document.createElement("span"); price.textContent = item.price + " " + currency();
      var del = document.createElement("button"); del.type = "button"; del.className = "btn btn-quiet"; del.textContent = "×";
      del.setAttribute("aria-label", form.dataset.labelRemove + " " + item.name);
      del.addEventListener("click", function () { items.splice(i, 1); refresh(); });
      li.appendChild(name); li.appendChild(price); li.appendChild(del); list.appendChild(li);
    });
    // The total counts the amount still on the display: it is charged as the last item.
    var pending = toMinor(amount.value);
    if (pending !== null) sum += pending;
    totalLine.hidden = !items.length;
    total.textContent = fromMinor(sum) + " " + currency();
  }
  function press(key) {
    var text = amount.value === "0" ? "" : amount.value;
    if (key === "back") text = text.slice(0, -1);
    else if (key === "clear") { text = ""; items = []; }
    else if (key === ".") { if (text.indexOf(".") < 0) text = (text || "0") + "."; }
    else {
      var next = text + key;
      var frac = next.split(".")[1];
      if (!(frac && frac.length > places()) && next.replace(".", "").length <= 16) text = next;
    }
    amount.value = text || "0";
    refresh();
  }
  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-key]");
    if (button) { event.preventDefault(); press(button.getAttribute("data-key")); }
  });
  form.querySelectorAll("input[name=currency]").forEach(function (r) {
    r.addEventListener("change", function () { amount.value = "0"; items = []; refresh(); });
  });
  document.getElementById("item-add").addEventListener("click", function () {
    var minor = toMinor(amount.value);
    if (minor === null || minor <= BigInt(0)) { amount.focus(); return; }
    var nameInput = document.getElementById("item-name");
    items.push({name: nameInput.value.trim() || form.dataset.labelItem + " " + (items.length + 1), price: fromMinor(minor), quantity: 1});
    nameInput.value = ""; amount.value = "0"; refresh();
  });
  amount.addEventListener("input", refresh);
  form.addEventListener("submit", function () {
    // An amount still on the display is charged too: it becomes the last item.
    var minor = toMinor(amount.value);
    if (items.length && minor !== null && minor > BigInt(0)) {
      items.push({name: form.dataset.labelOther, price: fromMinor(minor), quantity: 1});
      refresh();
    }
  });
  refresh();
})();
