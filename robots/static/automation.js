// Automation view: drag-and-drop reorder of a column's robots (SortableJS), confirmations, auto-submit.
(function () {
  "use strict";
  function t(text, values) {  /* app.js's helper: the text in the page's language (English before it loads) */
    return window.kanbanText ? window.kanbanText(text, values) : text;
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function status(text, isError) {
    var box = document.querySelector(".order-status");
    if (!box) { return; }
    box.hidden = false;
    box.textContent = text;
    box.className = "order-status flash " + (isError ? "flash-error" : "flash-ok");
  }

  function saveOrder(list, previous) {
    var body = new URLSearchParams();
    list.querySelectorAll("[data-robot-id]").forEach(function (li) { body.append("ids", li.dataset.robotId); });
    fetch(list.dataset.orderUrl, {
      method: "POST", credentials: "same-origin", body: body,
      headers: {"X-CSRF-Token": csrf(), "Content-Type": "application/x-www-form-urlencoded"}
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok && data.ok, data: data}; });
    }).then(function (result) {
      if (result.ok) { status(t("Order saved."), false); return; }
      // Refused (e.g. it would break an output reference): put the cards back.
      previous.forEach(function (li) { list.appendChild(li); });
      status(result.data.message || t("The order was not saved."), true);
    }).catch(function () {
      previous.forEach(function (li) { list.appendChild(li); });
      status(t("The order was not saved (network error)."), true);
    });
  }

  function showDelayParts(select) {
    // Only the inputs the chosen delay type uses are shown (without JS all of them are).
    select.form.querySelectorAll("[data-delay-for]").forEach(function (part) {
      part.hidden = part.dataset.delayFor.split(" ").indexOf(select.value) < 0;
    });
  }

  function filterKinds(input) {
    // The add-robot catalogue: show the kinds whose title or description holds every typed word.
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    document.querySelectorAll("[data-kind-card]").forEach(function (card) {
      var text = card.textContent.toLowerCase();
      card.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
      if (!card.hidden) { shown += 1; }
    });
    document.querySelectorAll(".kind-group").forEach(function (group) {
      group.hidden = !group.querySelector("[data-kind-card]:not([hidden])");
    });
    var none = document.querySelector(".kind-none");
    if (none) { none.hidden = shown > 0; }
  }

  function init() {
    document.querySelectorAll("input[data-kind-search]").forEach(function (input) {
      input.addEventListener("input", function () { filterKinds(input); });
      filterKinds(input);
    });
    document.querySelectorAll("select[data-delay-type]").forEach(function (select) {
      showDelayParts(select);
      select.addEventListener("change", function () { showDelayParts(select); });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
    if (typeof Sortable === "undefined") { return; }
    document.querySelectorAll(".robot-list[data-order-url]").forEach(function (list) {
      var previous = [];
      Sortable.create(list, {
        // Fallback mode (pointer events instead of native HTML5 drag) behaves the same with mouse and touch.
        handle: ".drag-handle", draggable: "[data-robot-id]", animation: 120, forceFallback: true,
        fallbackTolerance: 3,
        onStart: function () { previous = Array.prototype.slice.call(list.querySelectorAll("[data-robot-id]")); },
        onEnd: function (event) { if (event.oldIndex !== event.newIndex) { saveOrder(list, previous); } }
      });
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
