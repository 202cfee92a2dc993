/* Residents' consent page (LIFF). Gets the LINE ID token for the form and keeps "tax" tied to "notify".
   The token comes only from the LIFF SDK (window.liff) and travels only in the POSTed form body: never
   in a URL, where access logs, the history and shared links would keep it. */
(function () {
  "use strict";

  function getIdToken() {
    if (!window.liff) {
      return Promise.resolve(null);
    }
    var liffId = document.body.getAttribute("data-liff-id");
    var ready = liffId ? window.liff.init({ liffId: liffId }) : Promise.resolve();
    return ready.then(function () { return window.liff.getIDToken(); });
  }

  function setUpForm(form) {
    var field = document.getElementById("id_token");
    var warning = document.getElementById("liff-no-token");
    var notify = document.getElementById("notify");
    var tax = document.getElementById("tax");

    function syncTax() {
      // Consent to the tax check only means something together with notices.
      if (!notify.checked) {
        tax.checked = false;
      }
      tax.disabled = !notify.checked;
    }
    notify.addEventListener("change", syncTax);
    if (!tax.getAttribute("aria-invalid")) {
      syncTax();
    }

    if (field.value) {
      return; // re-shown after an error: the server kept the token
    }
    getIdToken().then(function (token) {
      if (token) {
        field.value = token;
      } else {
        warning.hidden = false;
      }
    }, function () {
      warning.hidden = false;
    });
  }

  function setUpClose(button) {
    if (!window.liff || !window.liff.closeWindow) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () { window.liff.closeWindow(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("consent-form");
    if (form) {
      setUpForm(form);
    }
    var close = document.getElementById("liff-close");
    if (close) {
      setUpClose(close);
    }
  });
})();
