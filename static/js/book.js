// Theme page: keep the booking button saying what it does ("Book 3 places"),
// show the live total for the chosen time and tickets, and the chosen time's
// no-refund warning. Without JavaScript the form still works: the server
// prices the booking (bookings/pricing.py) and the checkout page shows it.
(function () {
  "use strict";
  var form = document.getElementById("book-form");
  if (!form) return;
  var input = form.querySelector("input[name=party_size]");
  var tickets = Array.prototype.slice.call(form.querySelectorAll("input[data-ticket-price]"));
  var button = document.getElementById("book-button");
  var total = document.getElementById("book-total");
  if (!button) return;

  function whole(el) {
    var n = parseInt(el.value, 10);
    return isFinite(n) && n > 0 ? n : 0;
  }

  function partySize() {
    if (tickets.length) {
      return tickets.reduce(function (sum, el) { return sum + whole(el); }, 0);
    }
    return input ? whole(input) : 0;
  }

  // The same shape as bookwise.money.format_money: "€1,234.50", "¥5,000", "CHF 30.00".
  function formatMoney(minor) {
    var exponent = parseInt(total.getAttribute("data-exponent"), 10) || 0;
    var value = (minor / Math.pow(10, exponent)).toFixed(exponent);
    var parts = value.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (total.getAttribute("data-currency-prefix") || "") + parts.join(".");
  }

  function amount(party) {
    var checked = form.querySelector("input[name=slot]:checked");
    var source = checked || total;
    var flat = source.getAttribute(checked ? "data-flat-price" : "data-base-flat-price");
    if (flat !== null) return parseInt(flat, 10);
    if (tickets.length) {
      return tickets.reduce(function (sum, el) {
        return sum + whole(el) * parseInt(el.getAttribute("data-ticket-price"), 10);
      }, 0);
    }
    var unit = source.getAttribute(checked ? "data-unit-price" : "data-base-unit-price");
    return (parseInt(unit, 10) || 0) * party;
  }

  function update() {
    var n = partySize();
    if (tickets.length && input) input.value = n ? String(n) : "";
    button.textContent = n < 1 ? "Book" : "Book " + n + (n === 1 ? " place" : " places");
    if (!total) return;
    var due = amount(n);
    if (due > 0 || tickets.length) {
      total.textContent = "Total " + formatMoney(due) + "; you pay on the next page.";
    }
  }
  form.addEventListener("input", update);

  // A time inside the theme's no-refund window says so before anything is charged:
  // "Starts in 3 hours: this booking cannot be cancelled for a refund."
  var warning = document.getElementById("book-refund-warning");
  function showWarning() {
    if (!warning) return;
    var checked = form.querySelector("input[name=slot]:checked");
    var text = checked ? checked.getAttribute("data-refund-warning") || "" : "";
    warning.textContent = text;
    warning.hidden = !text;
  }
  form.addEventListener("change", function (event) {
    if (event.target && event.target.name === "slot") {
      showWarning();
      update();
    }
  });
  showWarning();
  update();
})();
