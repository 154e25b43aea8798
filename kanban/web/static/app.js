/* Kanban CRM front end: CSRF on htmx requests, drag and drop, "Move to…" forms, live updates.
   All script lives here: the CSP allows no inline scripts and no eval. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  /* A text in the page's language: pages hand the scripts' texts over translated (kanban.i18n.JS_MESSAGES) in
     <meta name="kanban-i18n">, keyed by their English text; %(name)s placeholders are filled from `values`. */
  var texts = null;
  function t(text, values) {
    if (texts === null) {
      var meta = document.querySelector('meta[name="kanban-i18n"]');
      try { texts = meta ? JSON.parse(meta.content) : {}; } catch (e) { texts = {}; }
    }
    var out = texts[text] || text;
    Object.keys(values || {}).forEach(function (k) { out = out.split("%(" + k + ")s").join(String(values[k])); });
    return out;
  }
  window.kanbanText = t;
  var dragging = false;
  var pending = new Set();

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });

  function board() { return document.getElementById("board"); }

  function filterParams() {
    var b = board();
    return new URLSearchParams(b ? b.dataset.filters || "" : "");
  }

  function isCard(el) { return el && el.classList && el.classList.contains("card"); }

  function neighbour(el, step) {
    var sib = step < 0 ? el.previousElementSibling : el.nextElementSibling;
    while (sib && !isCard(sib)) { sib = step < 0 ? sib.previousElementSibling : sib.nextElementSibling; }
    return sib ? sib.dataset.dealId : "";
  }

  function showMessage(text, kind) {
    var box = document.getElementById("board-message") || document.getElementById("page-message");
    if (!box) { return; }
    box.textContent = text;
    box.className = "message message-" + kind;
  }

  /* Replace every element of an HTML fragment that has an id with the same-id element on the page
     (a form the user is typing in is kept: their values win until they save or cancel). */
  function applyFragment(html, focusId) {
    var active = document.activeElement && document.activeElement.id;
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    Array.prototype.slice.call(tpl.content.children).forEach(function (el) {
      var old = el.id && document.getElementById(el.id);
      if (!old || old.querySelector(".field.editing, form.is-editing")) { return; }
      old.replaceWith(el);
      if (window.htmx) { window.htmx.process(el); }
      initSortable(el);
    });
    restoreSelection();
    var focus = document.getElementById(focusId || active || "");
    if (focus) { focus.focus(); }
    showDealTab(null);
  }

  /* Deal page tabs: Timeline | Why? (without JS both show). The chosen tab survives live refreshes. */
  var dealTab = null;
  function showDealTab(tab) {
    tab = tab || (dealTab && document.getElementById(dealTab));
    if (!tab) { return; }
    dealTab = tab.id;
    tab.closest("[data-tabs]").querySelectorAll("[role=tab]").forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      var panel = document.getElementById(t.getAttribute("aria-controls"));
      if (panel) { panel.classList.toggle("active", on); }
    });
  }
  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest("[data-tabs] [role=tab]");
    if (tab) { showDealTab(tab); }
  });

  /* Move preview: what a move would run, fetched from /deals/{id}/preview-move (it writes nothing). */
  function fetchPreview(dealId, stageId) {
    return fetch("/deals/" + dealId + "/preview-move?stage_id=" + encodeURIComponent(stageId),
                 {credentials: "same-origin", headers: {"HX-Request": "true"}})
      .then(function (r) { return r.ok ? r.text() : null; });
  }

  /* While a card is dragged, hovering a column shows a small popover under its header. */
  var dragPreview = (function () {
    var dealId = null, stageId = null, fromStage = null, box = null, cache = {};
    var pointerY = 0;
    function place(column) {
      // Under the dragged card (which follows the pointer), aligned with the hovered column.
      var rect = column.getBoundingClientRect();
      box.style.left = Math.max(4, Math.min(rect.left, window.innerWidth - box.offsetWidth - 4)) + "px";
      box.style.top = Math.max(4, Math.min(pointerY + 70, window.innerHeight - box.offsetHeight - 4)) + "px";
    }
    function show(column, html) {
      if (!box || html === null) { return; }
      box.innerHTML = html;
      box.hidden = false;
      place(column);
    }
    function onPointer(event) {
      pointerY = event.clientY;
      var el = document.elementFromPoint(event.clientX, event.clientY);
      var column = el && el.closest && el.closest("section.column[data-stage-id]");
      var id = column ? column.dataset.stageId : null;
      if (id === stageId) {
        if (column && !box.hidden) { place(column); }
        return;
      }
      stageId = id;
      if (!id || id === fromStage) { box.hidden = true; return; }
      if (cache[id] !== undefined) { show(column, cache[id]); return; }
      box.hidden = true;
      fetchPreview(dealId, id).then(function (html) {
        cache[id] = html;
        if (stageId === id && dealId) { show(column, html); }
      });
    }
    return {
      start: function (card) {
        if (!card || !card.dataset.dealId) { return; }
        dealId = card.dataset.dealId;
        var column = card.closest("section.column");
        fromStage = column ? column.dataset.stageId : null;
        stageId = fromStage;
        cache = {};
        box = document.getElementById("drag-preview");
        if (!box) {
          box = document.createElement("div");
          box.id = "drag-preview";
          box.className = "drag-preview";
          document.body.appendChild(box);
        }
        box.hidden = true;
        document.addEventListener("pointermove", onPointer, true);
        document.addEventListener("mousemove", onPointer, true);
      },
      stop: function () {
        document.removeEventListener("pointermove", onPointer, true);
        document.removeEventListener("mousemove", onPointer, true);
        dealId = stageId = null;
        if (box) { box.hidden = true; }
      }
    };
  })();

  /* Deal page stage bar and a board card's "Move to" menu: hovering or focusing a stage previews the move. */
  var barTimer = null;
  var PREVIEW_BUTTONS = "#deal-stagebar button[name=stage_id]:not([disabled]), " +
                        "details.card-menu button[name=stage_id]:not([disabled])";
  function previewBox(button) {
    if (button.closest("#deal-stagebar")) { return document.getElementById("stage-preview"); }
    var form = button.closest("form.move-to");
    var box = form.querySelector(".menu-preview");
    if (!box) {
      box = document.createElement("div");
      box.className = "menu-preview";
      box.setAttribute("aria-live", "polite");
      box.hidden = true;
      form.querySelector(".menu-list").after(box);
    }
    return box;
  }
  function barPreview(event) {
    var button = event.target.closest && event.target.closest(PREVIEW_BUTTONS);
    if (!button) { return; }
    var card = button.closest(".card");
    var page = document.querySelector(".deal-page");
    var dealId = card ? card.dataset.dealId : (page && page.dataset.dealId);
    if (!dealId) { return; }
    clearTimeout(barTimer);
    barTimer = setTimeout(function () {
      fetchPreview(dealId, button.value).then(function (html) {
        var box = previewBox(button);
        if (!box || html === null) { return; }
        box.innerHTML = html;
        box.hidden = false;
      });
    }, 150);
  }
  document.addEventListener("mouseover", barPreview);
  document.addEventListener("focusin", barPreview);
  document.addEventListener("mouseout", function (event) {
    var area = event.target.closest && event.target.closest("#deal-stagebar, details.card-menu .menu-list");
    if (!area || (event.relatedTarget && area.contains(event.relatedTarget))) { return; }
    clearTimeout(barTimer);
    var box = area.id === "deal-stagebar" ? document.getElementById("stage-preview")
      : area.parentNode.querySelector(".menu-preview");
    if (box) { box.hidden = true; }
  });

  /* Multi-select: a checkbox per card (shift-click checks or clears the range since the last one clicked);
     the selection survives live column refreshes, and "Move selected to…" posts it in one request. */
  var selected = new Map();  /* deal id -> "id:version" as the card was when selected */
  var lastClicked = null;

  function bulkForm() { return document.getElementById("bulk-move"); }

  function updateBulk() {
    var form = bulkForm();
    if (!form) { return; }
    form.classList.toggle("active", selected.size > 0);
    var count = document.getElementById("bulk-count");
    if (count) {
      count.textContent = selected.size === 0 ? form.dataset.none
        : (selected.size === 1 ? form.dataset.one : form.dataset.many.replace("{num}", String(selected.size)));
    }
  }

  function restoreSelection() {
    document.querySelectorAll("input.card-select").forEach(function (box) {
      var card = box.closest(".card");
      box.checked = !!card && selected.has(card.dataset.dealId);
      if (card) { card.classList.toggle("card-selected", box.checked); }
    });
    updateBulk();
  }

  function pick(box, on) {
    var card = box.closest(".card");
    if (!card) { return; }
    box.checked = on;
    card.classList.toggle("card-selected", on);
    if (on) { selected.set(card.dataset.dealId, box.value); } else { selected.delete(card.dataset.dealId); }
  }

  document.addEventListener("click", function (event) {
    var box = event.target;
    if (box.matches && box.matches("input.card-select")) {
      var boxes = Array.prototype.slice.call(document.querySelectorAll("input.card-select"));
      if (event.shiftKey && lastClicked && document.body.contains(lastClicked)) {
        var a = boxes.indexOf(lastClicked), b = boxes.indexOf(box);
        boxes.slice(Math.min(a, b), Math.max(a, b) + 1).forEach(function (other) { pick(other, box.checked); });
      } else {
        pick(box, box.checked);
      }
      lastClicked = box;
      updateBulk();
      return;
    }
    if (event.target.closest && event.target.closest(".bulk-clear")) {
      selected.clear();
      lastClicked = null;
      restoreSelection();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("#bulk-move") || !board()) { return; }
    event.preventDefault();
    if (!selected.size) { updateBulk(); return; }
    var body = new URLSearchParams(new FormData(form));
    body.delete("deal_ids");
    selected.forEach(function (value) { body.append("deal_ids", value); });
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    fetch("/board/bulk-move", {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf(), "HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
      body: body.toString()
    }).then(function (response) {
      if (response.status === 401) {
        window.location.href = response.headers.get("HX-Redirect") || "/login";
        return null;
      }
      return response.text();
    }).then(function (html) {
      if (html === null) { return; }
      selected.clear();
      lastClicked = null;
      applyFragment(html, null);
    }).catch(function () {
      showMessage(t("The move could not be sent (network error); reloading the board."), "error");
      window.setTimeout(function () { window.location.reload(); }, 1500);
    }).then(function () { if (button) { button.disabled = false; } });
  });

  function postMove(dealId, body, focusId, action) {
    var card = document.getElementById("deal-" + dealId);
    if (card) { card.classList.add("card-saving"); }
    return fetch("/deals/" + dealId + "/" + (action || "move"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf(), "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded"},
      body: body.toString()
    }).then(function (response) {
      if (response.status === 401) {
        window.location.href = response.headers.get("HX-Redirect") || "/login";
        return null;
      }
      return response.text();
    }).then(function (html) {
      if (html !== null) { applyFragment(html, focusId); }
      flushPending();
    }).catch(function () {
      showMessage(t("The move could not be sent (network error); reloading the board."), "error");
      window.setTimeout(function () { window.location.reload(); }, 1500);
    });
  }

  /* A card dropped on Won / Lost goes back to its column (it keeps its stage) and gets the status. */
  function onOutcomeDrop(evt) {
    var item = evt.item;
    var outcome = evt.to.dataset.outcome;
    var anchor = evt.from.children[evt.oldIndex] || null;
    evt.from.insertBefore(item, anchor);
    if (outcome === "lost") { openLost(item.dataset.dealId, item.querySelector(".card-title")); return; }
    postMove(item.dataset.dealId, filterParams(), null, outcome);
  }

  function lostDialog() { return document.getElementById("lost-dialog"); }

  function openLost(dealId, opener) {
    var dialog = lostDialog();
    if (!dialog || !dialog.showModal) { return; }
    var form = dialog.querySelector("form");
    form.reset();
    form.action = "/deals/" + dealId + "/lost";
    form.dataset.dealId = dealId;
    var card = document.getElementById("deal-" + dealId);
    var title = card ? card.querySelector(".card-title").textContent : "";
    dialog.querySelector(".lost-deal").textContent = title;
    dialog.querySelector(".lost-error").hidden = true;
    dialog.returnFocus = opener || null;
    dialog.showModal();
    dialog.querySelector("select").focus();
  }

  function closeLost() {
    var dialog = lostDialog();
    dialog.close();
    if (dialog.returnFocus && document.body.contains(dialog.returnFocus)) { dialog.returnFocus.focus(); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("#lost-dialog form")) { return; }
    event.preventDefault();
    var select = form.querySelector("select[name=reason_id]");
    if (select.required && !select.value) {
      form.querySelector(".lost-error").hidden = false;
      select.setAttribute("aria-invalid", "true");
      select.setAttribute("aria-describedby", "lost-error");
      select.focus();
      return;
    }
    var body = filterParams();
    new FormData(form).forEach(function (value, key) { if (key !== "csrf_token") { body.set(key, value); } });
    var dealId = form.dataset.dealId;
    closeLost();
    postMove(dealId, body, "move-" + dealId, "lost");
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest(".lost-cancel")) { closeLost(); }
  });

  function onDrop(evt) {
    var item = evt.item;
    if (evt.to.dataset.outcome) { onOutcomeDrop(evt); return; }
    if (evt.from === evt.to && evt.oldIndex === evt.newIndex) { return; }
    var body = filterParams();
    body.set("stage_id", evt.to.dataset.stageId);
    body.set("from_stage_id", evt.from.dataset.stageId);
    body.set("version", item.dataset.version);
    var above = neighbour(item, -1);
    var below = neighbour(item, 1);
    if (above) { body.set("above_id", above); }
    if (below) { body.set("below_id", below); }
    postMove(item.dataset.dealId, body, null);
  }

  function initSortable(root) {
    if (!window.Sortable || !board()) { return; }
    var lists = root.matches && root.matches("ol.cards") ? [root] : root.querySelectorAll("ol.cards");
    document.querySelectorAll("ol.dropzone").forEach(function (zone) {
      if (window.Sortable.get(zone)) { return; }
      window.Sortable.create(zone, {group: {name: "board", pull: false, put: true}, draggable: ".card",
                                    ghostClass: "card-ghost"});
    });
    Array.prototype.forEach.call(lists, function (list) {
      if (window.Sortable.get(list)) { return; }
      window.Sortable.create(list, {
        group: "board",
        draggable: ".card",
        filter: "select, button, input, label, option, summary, details form",
        preventOnFilter: false,
        // On touch screens a short hold starts a drag, so a swipe still scrolls the board.
        delay: 180,
        delayOnTouchOnly: true,
        forceFallback: true,
        fallbackTolerance: 4,
        animation: 120,
        ghostClass: "card-ghost",
        chosenClass: "card-chosen",
        onStart: function (evt) { dragging = true; closeMenus(null); document.body.classList.add("dragging"); dragPreview.start(evt.item); },
        onEnd: function (evt) { dragging = false; document.body.classList.remove("dragging"); dragPreview.stop(); onDrop(evt); }
      });
    });
  }

  /* Keyboard and no-JS path: with JS on, the card menu's stage buttons post in the background. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.move-to") || !board()) { return; }
    event.preventDefault();
    var card = form.closest(".card");
    var body = new URLSearchParams(new FormData(form));
    var outcome = event.submitter && event.submitter.dataset.outcome;
    if (event.submitter && event.submitter.name) { body.set(event.submitter.name, event.submitter.value); }
    var menu = form.closest("details");
    if (menu) { menu.open = false; }
    if (outcome === "lost") { openLost(card.dataset.dealId, document.getElementById("move-" + card.dataset.dealId)); return; }
    body.delete("stage_id");
    if (!outcome && event.submitter) { body.set("stage_id", event.submitter.value); }
    postMove(card.dataset.dealId, body, "move-" + card.dataset.dealId, outcome || "move");
  });

  /* Menus: one open at a time; Escape closes and gives focus back to its summary. */
  function closeMenus(except) {
    document.querySelectorAll("details.card-menu[open], details.menu[open]").forEach(function (d) {
      if (d !== except) { d.open = false; }
    });
  }

  document.addEventListener("toggle", function (event) {
    var d = event.target;
    if (d.matches && d.matches("details.card-menu, details.menu") && d.open) {
      closeMenus(d);
      var first = d.querySelector("button:not([disabled]), a[href], select, input:not([type=hidden])");
      if (first && d.querySelector("summary") === document.activeElement) { first.focus(); }
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var d = event.target.closest && event.target.closest("details.card-menu[open], details.menu[open]");
    if (d) {
      d.open = false;
      d.querySelector("summary").focus();
    }
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("details.card-menu, details.menu")) { closeMenus(null); }
  });

  /* Enter on a "Move to…" select submits its form (a select has no implicit submission). */
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key !== "Enter" || el.tagName !== "SELECT") { return; }
    var form = el.closest("form.filters");
    if (form) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.classList && el.classList.contains("autosubmit") && el.form) { el.form.requestSubmit(); }
  });

  function refreshColumns(ids) {
    ids.forEach(function (id) {
      var col = document.getElementById("col-" + id);
      if (!col) { return; }
      var typing = col.querySelector("details.new-deal[open]");
      if (dragging || typing) { pending.add(id); return; }
      fetch("/board/columns/" + id + "?" + filterParams().toString(),
            {credentials: "same-origin", headers: {"HX-Request": "true"}})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html) { applyFragment(html, null); } });
    });
  }

  function flushPending() {
    if (dragging || !pending.size) { return; }
    var ids = Array.from(pending);
    pending.clear();
    refreshColumns(ids);
  }

  function refreshDeal(page) {
    fetch("/deals/" + page.dataset.dealId + "/live", {credentials: "same-origin", headers: {"HX-Request": "true"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) { applyFragment(html, null); } });
  }

  function refreshChat(chat) {
    fetch("/chats/" + chat.dataset.chatId + "/messages", {credentials: "same-origin", headers: {"HX-Request": "true"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) { applyFragment(html, null); } });
  }

  /* Deal page inline edit: a value opens its input; Enter saves (the whole form, with its version);
     Escape puts the typed value back and closes the field. Without JS the value is a link to ?edit=. */
  function editForm(field) { return field.closest("form.inline-edit"); }

  function openField(field) {
    field.classList.add("editing");
    editForm(field).classList.add("is-editing");
    var input = field.querySelector(".fi input, .fi select, .fi textarea");
    if (input) { input.focus(); if (input.select && input.type !== "email") { input.select(); } }
  }

  function closeField(field) {
    field.querySelectorAll(".fi input, .fi textarea").forEach(function (el) { el.value = el.defaultValue; });
    field.querySelectorAll(".fi option").forEach(function (el) { el.selected = el.defaultSelected; });
    field.classList.remove("editing");
    var form = editForm(field);
    if (!form.querySelector(".field.editing")) { form.classList.remove("is-editing"); }
    var link = field.querySelector(".fv");
    if (link) { link.focus(); }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("form.inline-edit .fv");
    if (link) {
      event.preventDefault();
      openField(link.closest(".field"));
      return;
    }
    var cancel = event.target.closest && event.target.closest("form.inline-edit .cancel");
    if (cancel) {
      event.preventDefault();
      editForm(cancel).querySelectorAll(".field.editing").forEach(closeField);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var field = event.target.closest && event.target.closest("form.inline-edit .field.editing");
    if (field) {
      event.preventDefault();
      closeField(field);
    }
  });

  /* Person field: Enter in the search box searches (not saves); typing a new person's details selects "New". */
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key === "Enter" && el.name === "person_q") {
      event.preventDefault();
      if (window.htmx) { window.htmx.trigger(el, "search"); }
    }
  });

  document.addEventListener("input", function (event) {
    var box = event.target.closest && event.target.closest(".new-person");
    var radio = box && box.closest(".person-picker").querySelector('input[name="person_id"][value="new"]');
    if (radio) { radio.checked = true; }
  });

  /* Composer tabs (without JS both forms show, one above the other). */
  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest(".composer [role=tab]");
    if (!tab) { return; }
    var box = tab.closest(".composer");
    box.querySelectorAll("[role=tab]").forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      document.getElementById(t.getAttribute("aria-controls")).classList.toggle("active", on);
    });
    var first = document.getElementById(tab.getAttribute("aria-controls")).querySelector("textarea, input:not([type=hidden]), select");
    if (first) { first.focus(); }
  });

  /* Mention picker: inserts "@email " where the cursor is. */
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.classList || !select.classList.contains("mention-select") || !select.value) { return; }
    var area = document.getElementById(select.dataset.target);
    var at = area.selectionStart || area.value.length;
    var before = area.value.slice(0, at);
    var mention = (before && !/\s$/.test(before) ? " " : "") + "@" + select.value + " ";
    area.value = before + mention + area.value.slice(at);
    select.value = "";
    area.focus();
    area.selectionStart = area.selectionEnd = at + mention.length;
  });

  function refreshBell() {
    var bell = document.querySelector(".bell");
    if (bell && window.htmx) { window.htmx.trigger(bell, "refresh"); }
  }

  // One stream per page: the page's own notices (board or deal) and the signed-in user's notifications.
  function listen(url, type, handler) {
    if (!window.EventSource || !url) { return; }
    var source = new EventSource(url);
    if (type) {
      source.addEventListener(type, function (event) {
        var notice;
        try { notice = JSON.parse(event.data); } catch (err) { return; }
        handler(notice);
      });
    }
    source.addEventListener("notifications", refreshBell);
    source.addEventListener("ready", function () { document.body.dataset.live = "on"; });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // On a phone the secondary board filters start folded (open without JS, so they always stay reachable).
    var more = document.querySelector("details.more-filters");
    if (more && window.matchMedia("(max-width: 600px)").matches && !more.querySelector(".count")) { more.open = false; }
    var b = board();
    if (b) {
      initSortable(b);
      listen(b.dataset.liveUrl, "board", function (notice) { refreshColumns(notice.stage_ids || []); });
      document.addEventListener("toggle", function (event) {
        if (event.target.matches && event.target.matches("details.new-deal") && !event.target.open) {
          flushPending();
        }
      }, true);
    }
    var page = document.querySelector(".deal-page");
    if (page) { listen(page.dataset.liveUrl, "deal", function () { refreshDeal(page); }); }
    var chat = document.querySelector(".chat[data-live-url]");
    if (chat) { listen(chat.dataset.liveUrl, "chat", function () { refreshChat(chat); }); }
    if (!b && !page && !chat && document.querySelector(".bell")) { listen("/events", null, null); }
  });
})();
