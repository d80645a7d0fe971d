// Theme page: keep the booking button saying what it does ("Book 3 places"),
// and show the chosen time's no-refund warning.
(function () {
  "use strict";
  var form = document.getElementById("book-form");
  if (!form) return;
  var input = form.querySelector("input[name=party_size]");
  var button = document.getElementById("book-button");
  if (!input || !button) return;
  function update() {
    var n = parseInt(input.value, 10);
    if (!isFinite(n) || n < 1) {
      button.textContent = "Book";
      return;
    }
    button.textContent = "Book " + n + (n === 1 ? " place" : " places");
  }
  input.addEventListener("input", update);
  update();

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
    if (event.target && event.target.name === "slot") showWarning();
  });
  showWarning();
})();
