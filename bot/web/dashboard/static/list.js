// The work orders list, live: the server sends the first page's rows (HTML it rendered and escaped) whenever they
// change. Only the page's own origin is contacted; the EventSource reconnects by itself after a dropped connection.
"use strict";
(function () {
  var body = document.body;
  var url = body.getAttribute("data-events");
  var state = document.getElementById("live-state");
  if (!url || !window.EventSource) { return; }
  var rows = document.querySelector("#work-orders tbody");
  var source = new EventSource(url);
  source.addEventListener("open", function () {
    body.setAttribute("data-live", "on");
    state.textContent = "";
  });
  source.addEventListener("rows", function (event) {
    var template = document.createElement("template");
    template.innerHTML = "<table><tbody>" + event.data + "</tbody></table>";
    rows.replaceChildren.apply(rows, Array.prototype.slice.call(template.content.querySelector("tbody").children));
  });
  source.addEventListener("error", function () {
    body.setAttribute("data-live", "off");
    state.textContent = "Live updates paused: reconnecting…";
  });
})();
