// Theme page: keep the booking button saying what it does ("Book 3 places").
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
})();
