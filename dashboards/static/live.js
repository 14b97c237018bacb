// Live updates for the dashboards and the customer's order page, over Socket.IO.
// Data from events is written with textContent only. A changed section is refreshed by fetching
// its fragment again from the server, which renders it with Jinja autoescaping. The fetched HTML is
// parsed with DOMParser, which does not run scripts, and its nodes are swapped in.
(function () {
  "use strict";

  var body = document.body;
  var mode = body.dataset.live || "";
  var REFRESH_DELAY_MS = 150;

  function setLiveState(state, text) {
    var badge = document.getElementById("live-state");
    if (badge) {
      badge.dataset.state = state;
      badge.textContent = text;
    }
  }

  // Fragment refresh, debounced, and deferred while the user is typing inside the fragment.
  var refreshTimer = null;
  var refreshPending = false;

  function container() {
    return document.getElementById("live-fragment");
  }

  function typingInside(element) {
    var active = document.activeElement;
    return active && element.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  function refreshNow() {
    var target = container();
    if (!target) {
      return;
    }
    if (typingInside(target)) {
      refreshPending = true;
      return;
    }
    fetch(target.dataset.fragmentUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/dashboard/login") !== -1) {
          window.location.assign(response.url);
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) {
          return;
        }
        var parsed = new DOMParser().parseFromString(html, "text/html");
        target.replaceChildren.apply(target, Array.prototype.slice.call(parsed.body.childNodes));
        body.dataset.refreshed = String(Date.now());
      })
      .catch(function () {
        setLiveState("error", "refresh failed");
      });
  }

  function scheduleRefresh() {
    if (refreshTimer !== null) {
      clearTimeout(refreshTimer);
    }
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      refreshNow();
    }, REFRESH_DELAY_MS);
  }

  document.addEventListener("focusout", function () {
    if (refreshPending) {
      refreshPending = false;
      scheduleRefresh();
    }
  });

  // Fleet page: show a printer's new state at once, then refresh counts and filter membership.
  function updatePrinterRow(event) {
    var row = document.querySelector('tr[data-printer-id="' + Number(event.printer_id) + '"]');
    if (!row || typeof event.worst !== "string") {
      return;
    }
    row.dataset.state = event.worst;
    var badge = row.querySelector('[data-role="state"]');
    if (badge) {
      badge.textContent = event.worst;
      badge.className = "badge state-" + event.worst.replace(/[^a-z_]/g, "");
    }
    var conditions = row.querySelector('[data-role="conditions"]');
    if (conditions && Array.isArray(event.conditions)) {
      conditions.textContent = event.conditions.join(", ");
    }
  }

  function onFleetEvent(event) {
    body.dataset.lastSeq = String(event.seq);
    var name = String(event.name || "");
    if (mode === "fleet" && name.indexOf("printer.") === 0) {
      if (name === "printer.health") {
        updatePrinterRow(event);
      }
      scheduleRefresh();
    } else if (mode === "orders" && (name.indexOf("order.") === 0 || name.indexOf("job.") === 0)) {
      scheduleRefresh();
    } else if (mode === "order" && Number(event.order_id) === Number(body.dataset.orderId)) {
      if (!typingInside(body)) {
        window.location.reload();
      }
    } else if (mode === "quarantine" && name === "printer.quarantined") {
      window.location.reload();
    }
  }

  // Customer page: status, ETA and reason by textContent, plus an on-page notice.
  function showText(lineId, textId, value) {
    var line = document.getElementById(lineId);
    var text = document.getElementById(textId);
    if (!line || !text) {
      return;
    }
    text.textContent = value || "";
    line.hidden = !value;
  }

  function applyCustomerStatus(status, announce) {
    var statusText = document.getElementById("status-text");
    var changed = statusText.dataset.status !== status.status;
    statusText.dataset.status = status.status;
    statusText.textContent = status.status_text;
    showText("eta-line", "eta-text", status.eta_text);
    showText("reason-line", "reason-text", status.reject_reason);
    if (changed && announce) {
      var notice = document.getElementById("notice");
      notice.textContent = "Update: " + status.status_text;
      notice.hidden = false;
    }
  }

  function fetchCustomerStatus() {
    fetch(body.dataset.statusUrl, { credentials: "omit" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (status) {
          applyCustomerStatus(status, true);
        }
      })
      .catch(function () { /* the next event or reconnect tries again */ });
  }

  if (typeof io !== "function" || !mode && !document.getElementById("live-state")) {
    return;
  }

  var socket = mode === "customer" ? io({ auth: { order: body.dataset.order } }) : io();

  socket.on("connect", function () {
    setLiveState("live", "live");
    if (mode === "printer") {
      socket.emit("watch_printer", { printer_id: Number(body.dataset.printerId) });
    }
    // Catch up on what happened while the socket was down, or, on the first connect, between the
    // page render and joining the rooms.
    if (mode === "customer") {
      fetchCustomerStatus();
    } else {
      scheduleRefresh();
    }
  });
  socket.on("disconnect", function () {
    setLiveState("reconnecting", "reconnecting…");
  });
  socket.on("connect_error", function () {
    setLiveState("reconnecting", "reconnecting…");
  });
  socket.on("fleet_event", onFleetEvent);
  socket.on("printer_event", function () {
    if (mode === "printer") {
      scheduleRefresh();
    }
  });
  socket.on("order_status", function (status) {
    if (mode === "customer") {
      applyCustomerStatus(status, true);
    }
  });
})();
