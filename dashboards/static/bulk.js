// Live progress of one bulk operation, over Socket.IO, and the printers ticked on the fleet page.
// Each bulk.progress event moves the progress bar and marks the printer's row at once. The page then
// re-reads the full state (per-printer details) as JSON from the operation's state URL. It does so
// after every connect too, so it catches up on events it missed. Data is written with textContent.
(function () {
  "use strict";

  var body = document.body;
  var operationId = Number(body.dataset.operationId);
  var stateUrl = body.dataset.stateUrl;
  var FETCH_DELAY_MS = 200;
  var fetchTimer = null;

  function setLiveState(state, text) {
    var badge = document.getElementById("live-state");
    if (badge) {
      badge.dataset.state = state;
      badge.textContent = text;
    }
  }

  function setText(role, value) {
    var element = document.querySelector('[data-role="' + role + '"]');
    if (element) {
      element.textContent = String(value);
    }
  }

  function showProgress(done, total, state) {
    var bar = document.getElementById("bulk-progress");
    var percent = total > 0 ? Math.round(100 * done / total) : 100;
    bar.max = total > 0 ? total : 1;
    bar.value = total > 0 ? done : 1;
    bar.textContent = percent + " %";
    setText("done", done);
    setText("total", total);
    setText("percent", percent);
    if (state) {
      setText("op-state", state);
    }
    body.dataset.opState = state || body.dataset.opState || "";
  }

  function showResult(printerId, result, summary) {
    var row = document.querySelector('tr[data-printer-id="' + Number(printerId) + '"]');
    if (!row) {
      return;
    }
    row.dataset.result = String(result);
    row.querySelector('[data-role="result"]').textContent = String(result);
    if (typeof summary === "string") {
      row.querySelector('[data-role="detail"]').textContent = summary;
    }
  }

  function fetchState() {
    fetch(stateUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/dashboard/login") !== -1) {
          window.location.assign(response.url);
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (state) {
        if (!state) {
          return;
        }
        showProgress(state.done, state.total, state.state);
        state.results.forEach(function (row) {
          showResult(row.printer_id, row.state, row.summary);
        });
        body.dataset.refreshed = String(Date.now());
      })
      .catch(function () {
        setLiveState("error", "refresh failed");
      });
  }

  function scheduleFetch() {
    if (fetchTimer !== null) {
      clearTimeout(fetchTimer);
    }
    fetchTimer = setTimeout(function () {
      fetchTimer = null;
      fetchState();
    }, FETCH_DELAY_MS);
  }

  function onFleetEvent(event) {
    if (event.name !== "bulk.progress" || Number(event.operation_id) !== operationId) {
      return;
    }
    body.dataset.lastSeq = String(event.seq);
    showProgress(Number(event.done), Number(event.total), String(event.state || ""));
    if (event.printer_id !== undefined && event.result !== undefined) {
      showResult(event.printer_id, event.result);
    }
    scheduleFetch();
  }

  // Fleet page: the live refresh replaces the table, so keep the ticked printers and tick them again.
  function keepFleetTicks() {
    var ticked = {};
    var fragment = document.getElementById("live-fragment");
    document.addEventListener("change", function (event) {
      var box = event.target;
      if (box.matches && box.matches('input[name="printer_id"][form="bulk-selection"]')) {
        ticked[box.value] = box.checked;
      }
    });
    new MutationObserver(function () {
      fragment.querySelectorAll('input[name="printer_id"][form="bulk-selection"]').forEach(function (box) {
        if (ticked[box.value] !== undefined) {
          box.checked = ticked[box.value];
        }
      });
    }).observe(fragment, { childList: true });
  }

  if (body.dataset.live === "fleet" && document.getElementById("live-fragment")) {
    keepFleetTicks();
    return;
  }
  if (typeof io !== "function" || !operationId) {
    return;
  }

  var socket = io();
  socket.on("connect", function () {
    setLiveState("live", "live");
    fetchState();
  });
  socket.on("disconnect", function () {
    setLiveState("reconnecting", "reconnecting…");
  });
  socket.on("connect_error", function () {
    setLiveState("reconnecting", "reconnecting…");
  });
  socket.on("fleet_event", onFleetEvent);
})();
