// Checkout: the hold countdown, card payment with Stripe.js, then wait for the
// webhook to confirm the booking (polling the booking's status endpoint).
(function () {
  "use strict";

  var POLL_INTERVAL_MS = 1000;
  var POLL_GIVE_UP_MS = 120000;

  var countdown = document.getElementById("countdown");
  var form = document.getElementById("payment-form");
  var payButton = document.getElementById("pay-button");
  var errorBox = document.getElementById("payment-error");
  var statusBox = document.getElementById("payment-status");
  var holdExpired = false;
  var paid = false;
  var timer = null;

  function setText(node, text) {
    if (node) node.textContent = text || "";
  }

  // --- Hold countdown. Counted from the server's "seconds left", not the
  // browser's clock, which may be wrong.
  if (countdown) {
    var deadline = Date.now() + (parseInt(countdown.getAttribute("data-seconds-left"), 10) || 0) * 1000;
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      countdown.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      if (left === 0) {
        window.clearInterval(timer);
        if (!paid) {
          holdExpired = true;
          if (payButton) payButton.disabled = true;
          setText(errorBox, "Your hold has expired: the places were released. Book the slot again to pay.");
        }
      }
    };
    timer = window.setInterval(tick, 1000);
    tick();
  }

  if (!form) return;

  if (typeof window.Stripe !== "function") {
    setText(errorBox, "Card payment could not be loaded. Check your connection and reload the page.");
    return;
  }

  var stripe = window.Stripe(form.getAttribute("data-publishable-key"));
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  if (!holdExpired) payButton.disabled = false;

  function showOutcome(title, text) {
    var done = document.getElementById("payment-done");
    setText(document.getElementById("payment-done-heading"), title);
    setText(document.getElementById("payment-done-text"), text);
    form.hidden = true;
    var hold = document.getElementById("hold");
    if (hold) hold.hidden = true;
    done.hidden = false;
    done.focus();
  }

  function pollStatus(startedAt) {
    fetch(form.getAttribute("data-status-url"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (data.status === "confirmed") {
          window.clearInterval(timer);
          showOutcome("Booking confirmed", "Your payment went through and your booking is confirmed. A confirmation email is on its way.");
        } else if (data.status === "cancelled" || data.status === "expired") {
          showOutcome(
            "Booking not confirmed",
            "Your booking is " + data.status + ". If your card was charged, the amount is refunded automatically."
          );
        } else if (Date.now() - startedAt > POLL_GIVE_UP_MS) {
          setText(statusBox, "Your payment is still being confirmed. You will get an email; you can also check My bookings.");
        } else {
          window.setTimeout(function () { pollStatus(startedAt); }, POLL_INTERVAL_MS);
        }
      })
      .catch(function () {
        // A network blip: keep trying until the give-up time.
        if (Date.now() - startedAt <= POLL_GIVE_UP_MS) {
          window.setTimeout(function () { pollStatus(startedAt); }, POLL_INTERVAL_MS);
        }
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (holdExpired || paid || payButton.disabled) return;
    payButton.disabled = true;
    setText(errorBox, "");
    setText(statusBox, "Processing your payment…");
    stripe
      .confirmCardPayment(form.getAttribute("data-client-secret"), { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) {
          setText(statusBox, "");
          setText(errorBox, result.error.message || "Your card could not be charged. Check the details and try again.");
          payButton.disabled = holdExpired;
          return;
        }
        paid = true;
        setText(statusBox, "Payment accepted. Confirming your booking…");
        pollStatus(Date.now());
      });
  });
})();
