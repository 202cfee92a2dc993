// The household page's 「印刷」 button (no inline script: the CSP allows only files from the app).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
