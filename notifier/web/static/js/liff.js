/* Residents' consent page (LIFF). Gets the LINE ID token for the form and keeps "tax" tied to "notify".
   In LINE the token comes from the LIFF SDK; with the local LINE simulator it comes from ?id_token=. */
(function () {
  "use strict";

  function tokenFromQuery() {
    var params = new URLSearchParams(window.location.search);
    var token = params.get("id_token");
    if (token && window.history && window.history.replaceState) {
      // Do not leave the token in the address bar, the history or a shared link.
      params.delete("id_token");
      var query = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    }
    return token;
  }

  function getIdToken() {
    if (window.liff) {
      var liffId = document.body.getAttribute("data-liff-id");
      var ready = liffId ? window.liff.init({ liffId: liffId }) : Promise.resolve();
      return ready.then(function () { return window.liff.getIDToken(); });
    }
    return Promise.resolve(tokenFromQuery());
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
