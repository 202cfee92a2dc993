// Rule editor, progressive enhancement only: the form works the same without this file.
// Switching a criterion's kind applies at once (without JS the "反映" button next to it does it).
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-apply]")) return;
    var button = document.getElementById(select.getAttribute("data-apply"));
    if (button && button.form) {
      if (button.form.requestSubmit) button.form.requestSubmit(button); else button.click();
    }
  });
})();
