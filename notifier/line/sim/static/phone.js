// Polls the chat fragment so bot messages appear without reloading. Everything else is plain forms.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  if (!chat || !window.fetch) { return; }
  var url = chat.getAttribute("data-poll-url");
  var seq = chat.getAttribute("data-seq") || "0";
  var busy = false;

  function scrollToEnd() { chat.scrollTop = chat.scrollHeight; }

  function typing() {
    // Do not replace the chat while the user fills a date picker inside it.
    var active = document.activeElement;
    return active && chat.contains(active) && active.tagName === "INPUT";
  }

  function poll() {
    if (busy || document.hidden || typing()) { return; }
    busy = true;
    fetch(url + "?since=" + encodeURIComponent(seq), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status !== 200) { return null; }
        seq = response.headers.get("X-Sim-Seq") || seq;
        return response.text();
      })
      .then(function (html) {
        if (html !== null && html !== undefined) {
          chat.innerHTML = html;
          chat.setAttribute("data-seq", seq);
          scrollToEnd();
        }
      })
      .catch(function () { /* the simulator may be restarting; try again next tick */ })
      .then(function () { busy = false; });
  }

  scrollToEnd();
  window.setInterval(poll, 1500);
})();
