// One work order, live: each new log entry is added to the timeline (as text, never as HTML) and the facts at the
// top follow the work order's state. The stream ends once the work order has ended.
"use strict";
(function () {
  var body = document.body;
  var url = body.getAttribute("data-events");
  var state = document.getElementById("live-state");
  if (!url || !window.EventSource) { return; }
  var timeline = document.getElementById("timeline");
  var seen = {};
  Array.prototype.forEach.call(timeline.children, function (li) { seen[li.getAttribute("data-id")] = true; });
  var $ = function (id) { return document.getElementById(id); };
  var text = function (id, value) { var el = $(id); if (el && el.textContent !== value) { el.textContent = value; } };
  var span = function (cls, value) {
    var el = document.createElement("span");
    el.className = cls;
    el.textContent = value;
    return el;
  };

  function addEntry(entry) {
    if (seen[String(entry.id)]) { return; }
    seen[String(entry.id)] = true;
    var li = document.createElement("li");
    li.setAttribute("data-kind", entry.kind);
    li.setAttribute("data-id", String(entry.id));
    li.className = "level-" + entry.level;
    var time = document.createElement("time");
    time.textContent = entry.at;
    li.append(time, " ", span("kind", entry.kind.replace(/_/g, " ")));
    if (entry.step) { li.append(" ", span("step", entry.step)); }
    li.append(" ", span("message", entry.message));
    if (entry.extra) { li.append(" ", span("extra", entry.extra)); }
    timeline.appendChild(li);
    if (entry.kind === "step_finished") { refreshSteps(); }
  }

  // The steps table (prompts and output) is the page's own rendering: fetched again, once a burst of finished
  // steps has passed, and its rows taken from the parsed page (nothing in it runs).
  var pending = null;
  function refreshSteps() {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () {
      pending = null;
      fetch(window.location.pathname, {headers: {Accept: "text/html"}, credentials: "same-origin"})
        .then(function (answer) { return answer.ok ? answer.text() : Promise.reject(answer.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("#steps tbody");
          if (!fresh) { throw new Error("no steps in the page"); }
          document.querySelector("#steps tbody").replaceWith(document.importNode(fresh, true));
          $("steps-stale").hidden = true;
        })
        .catch(function () { $("steps-stale").hidden = false; });
    }, 300);
  }

  function showState(s) {
    var status = $("wo-status");
    text("wo-status", s.status);
    status.className = "status status-" + s.status;
    text("wo-step", s.step);
    text("wo-tool", s.tool);
    text("wo-cost", s.cost);
    text("wo-turns", s.turns);
    text("wo-took", s.took);
    text("wo-attempt", String(s.attempt));
    text("wo-branch", s.branch);
    var error = $("wo-error");
    error.textContent = s.error;
    error.hidden = !s.error;
    $("cancel-form").hidden = !s.can_cancel;
    $("retry-form").hidden = !s.can_retry;
    var pr = $("wo-pr");
    if (s.pr_url && !$("pr-link") && /^https?:\/\//.test(s.pr_url)) {
      var link = document.createElement("a");
      link.id = "pr-link";
      link.href = s.pr_url;
      link.rel = "noopener noreferrer";
      link.textContent = s.pr_url;
      pr.replaceChildren(link);
    }
  }

  var source = new EventSource(url);
  source.addEventListener("open", function () {
    if (body.getAttribute("data-live") !== "ended") { body.setAttribute("data-live", "on"); }
    state.textContent = "";
  });
  source.addEventListener("log", function (event) { addEntry(JSON.parse(event.data)); });
  source.addEventListener("state", function (event) { showState(JSON.parse(event.data)); });
  source.addEventListener("end", function () {
    source.close();
    body.setAttribute("data-live", "ended");
  });
  source.addEventListener("error", function () {
    if (body.getAttribute("data-live") === "ended") { return; }
    body.setAttribute("data-live", "off");
    state.textContent = "Live updates paused: reconnecting…";
  });
})();
