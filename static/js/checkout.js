// Checkout: the hold countdown, card payment with Stripe.js, then wait for the
// webhook to confirm the booking (polling the booking's status endpoint).
//
// The outcome shown is the real one: a paid hold that ran out (status
// "expired") is still confirmed by its late payment when the places are free,
// and refunded otherwise, so the page keeps polling until the booking is
// confirmed, a refund is recorded (`refund`) or the payment was cancelled
// (`payment`), and only says "refunded" when a refund exists.
//
// Paying: Stripe.js turns the card into a token (createToken), the page posts
// it to the booking's pay endpoint, and the server attaches it to the booking's
// PaymentIntent and confirms it (payments.services.payment_confirm_card). The
// browser only steps in again when the bank asks for 3-D Secure. The same flow
// runs against Stripe and against localstripe's stand-in Stripe.js, which
// cannot confirm a payment with card details itself.
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

  // In the booking widget (static/js/embed.js), the merchant's page is told the outcome:
  // "confirmed", "cancelled" or "expired" (a booking still pending tells nothing).
  var OUTCOMES = { confirmed: "confirmed", attended: "confirmed", no_show: "confirmed", cancelled: "cancelled", expired: "expired" };
  function tellEmbedder(status) {
    var outcome = OUTCOMES[status];
    if (!outcome || !window.BookWiseEmbed || !form) return;
    window.BookWiseEmbed.notify(outcome, parseInt(form.getAttribute("data-booking"), 10));
  }

  // --- Hold countdown. Counted from the server's "seconds left", not the
  // browser's clock, which may be wrong. The hold never outlives the slot's
  // start (data-limit="start"): then the countdown ends when the slot starts.
  if (countdown) {
    var endsAtStart = countdown.getAttribute("data-limit") === "start";
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
          tellEmbedder("expired");
          setText(
            errorBox,
            endsAtStart
              ? "The slot has started: this booking can no longer be paid."
              : "Your hold has expired: the places were released. Book the slot again to pay."
          );
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

  function showOutcome(title, text, status) {
    window.clearInterval(timer);
    tellEmbedder(status);
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
        if (CONFIRMED[data.status]) {
          showOutcome("Booking confirmed", "Your payment went through and your booking is confirmed. A confirmation email is on its way.", data.status);
        } else if (data.refund === "succeeded") {
          showOutcome(
            "Booking not confirmed",
            "Your booking is " + data.status + ", so your payment was refunded to your card. It can take a few days to show on your statement.",
            data.status
          );
        } else if (data.refund) {
          showOutcome(
            "Booking not confirmed",
            "Your booking is " + data.status + ", so your payment is being refunded to your card. It can take a few days to show on your statement.",
            data.status
          );
        } else if (data.payment === "canceled") {
          showOutcome("Payment not completed", "Your payment was cancelled and nothing was charged. Your booking is " + data.status + ".", data.status);
        } else if (Date.now() - startedAt > POLL_GIVE_UP_MS) {
          setText(statusBox, "Your payment is still being confirmed. You will get an email; you can also check My bookings.");
        } else {
          // Not settled yet: the webhook has not arrived. A hold that ran out
          // meanwhile is still confirmed by this payment if the places are free.
          if (data.status === "expired") {
            setText(statusBox, "Your hold ran out while your payment was being confirmed. Checking whether your places are still free…");
          }
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

  var PAID_OR_PAYING = { succeeded: true, processing: true, requires_capture: true };
  var CONFIRMED = { confirmed: true, attended: true, no_show: true };

  function fail(message) {
    setText(statusBox, "");
    setText(errorBox, message);
    payButton.disabled = holdExpired;
  }

  function accepted() {
    paid = true;
    setText(errorBox, "");
    setText(statusBox, "Payment accepted. Confirming your booking…");
    pollStatus(Date.now());
  }

  // An error whose message is meant for the customer (not a browser's TypeError).
  function customerError(message) {
    var error = new Error(message);
    error.forCustomer = true;
    return error;
  }

  function sendToken(tokenId) {
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
    return fetch(form.getAttribute("data-pay-url"), {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRFToken": csrf ? csrf.value : "",
      },
      body: "token=" + encodeURIComponent(tokenId),
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        // The login page (the session ended) or a CSRF refusal: nothing was charged.
        throw customerError(
          response.redirected
            ? "Your session has ended. Log in again to pay; your places stay held until the time above."
            : "The payment could not be sent. Reload the page and try again."
        );
      }
      return response.json().then(function (data) {
        return { ok: response.ok, data: data };
      });
    });
  }

  // 3-D Secure for an intent the server confirmed. Stripe.js documents
  // handleNextAction for that; localstripe's stand-in only has
  // confirmCardPayment(clientSecret), which completes the pending step there
  // (and, on Stripe, for an automatically confirmed intent too).
  function authenticate(clientSecret) {
    if (typeof stripe.handleNextAction === "function") {
      return stripe.handleNextAction({ clientSecret: clientSecret });
    }
    return stripe.confirmCardPayment(clientSecret);
  }

  function afterServer(answer) {
    var data = answer.data || {};
    if (!answer.ok) {
      fail(data.detail || "Your card could not be charged. Check the details or use another card.");
      if (data.code === "not_payable" || data.code === "too_many_attempts") payButton.disabled = true;
      return;
    }
    if (data.requires_action) {
      setText(statusBox, "Your bank asks you to confirm this payment…");
      return authenticate(data.client_secret || form.getAttribute("data-client-secret")).then(function (result) {
        var intent = result && result.paymentIntent;
        if (result && result.error) {
          fail(result.error.message || "The payment was not confirmed by your bank. Try again or use another card.");
        } else if (intent && PAID_OR_PAYING[intent.status]) {
          accepted();
        } else {
          fail("The payment was not confirmed by your bank. Try again or use another card.");
        }
      });
    }
    if (PAID_OR_PAYING[data.status]) {
      accepted();
      return;
    }
    fail("Your card could not be charged. Check the details or use another card.");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (holdExpired || paid || payButton.disabled) return;
    payButton.disabled = true;
    setText(errorBox, "");
    setText(statusBox, "Processing your payment…");
    Promise.resolve()
      .then(function () {
        return stripe.createToken(card);
      })
      .then(function (result) {
        if (result.error) {
          fail(result.error.message || "Check your card details and try again.");
          return;
        }
        return sendToken(result.token.id).then(afterServer);
      })
      .catch(function (error) {
        fail(
          error && error.forCustomer
            ? error.message
            : "The payment could not be sent. Check your card details and your connection, then try again."
        );
      });
  });
})();
