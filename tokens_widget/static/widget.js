// The API Tokens page. Python owns state, rules and server calls; this module only renders
// the synced state and sends the person's intentions back (trait changes, or requests with ids).

const TYPING_DEBOUNCE_MS = 300;
const VALIDATE_DEBOUNCE_MS = 120;
const PAGE_SIZES = [10, 25, 50, 100, 200];
const ICON = {
  copy: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h8"/></svg>',
  check: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 12l5 5L20 7"/></svg>',
  refresh: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/></svg>',
  edit: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13.5 6.5l4 4"/></svg>',
  revoke: '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="8"/><path d="M6.5 6.5l11 11"/></svg>',
  trash: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/></svg>',
  plus: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 5v14M5 12h14"/></svg>',
  chevron: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 9l6 6 6-6"/></svg>',
};

/** Build an element: h("button", {class: "x", onclick: f}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "html") el.innerHTML = value; // only ever our own constant icons
    else if (key in el && key !== "list" && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

function iconButton(icon, label, attrs = {}) {
  return h("button", { type: "button", class: "tkn-icon", title: label, "aria-label": label, html: ICON[icon], ...attrs });
}

const number = new Intl.NumberFormat();
const fullDateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });
const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

/** An instant in the viewer's time zone: the day, and the time below it. */
function localDate(iso) {
  const d = new Date(iso);
  return [h("span", { class: "tkn-date" }, dayFormat.format(d)), h("span", { class: "tkn-time" }, timeFormat.format(d))];
}

/** An ISO instant as the value of <input type="datetime-local"> in the viewer's zone. */
function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of a datetime-local input (local wall time) as an ISO instant, or "". */
function fromLocalInput(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

function nowLocalInput() {
  return toLocalInput(new Date().toISOString());
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the older way, e.g. when the page lost focus
    }
  }
  const area = h("textarea", { readonly: true, class: "tkn-offscreen" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

function debounce(fn, ms) {
  let timer = null;
  const run = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

const FOCUSABLE = "button:not([disabled]), input:not([disabled]):not([tabindex='-1']), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

/**
 * Keep keys pressed in here away from the notebook around us. JupyterLab handles keydown as it
 * bubbles to the document, and in command mode a plain "x", "a" or "d d" typed while one of our
 * buttons or selects has focus would cut, insert or delete notebook cells. Chords with Ctrl, Alt
 * or Meta (save, the command palette) and Shift+Enter (run the cell) still reach JupyterLab.
 */
function keepKeys(node) {
  node.addEventListener("keydown", (event) => {
    const chord = event.ctrlKey || event.metaKey || event.altKey;
    const runCell = event.key === "Enter" && event.shiftKey;
    if (!chord && !runCell) event.stopPropagation();
  });
  return node;
}

function copyButton(getText, label, name = label) {
  const button = iconButton("copy", label, { class: "tkn-icon tkn-copy", "aria-label": name });
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    const ok = await copyText(getText());
    button.innerHTML = ok ? ICON.check : ICON.copy;
    button.classList.toggle("tkn-copied", ok);
    button.title = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      button.innerHTML = ICON.copy;
      button.classList.remove("tkn-copied");
      button.title = label;
    }, 1500);
  });
  return button;
}

const GUID_HIDDEN = "Only someone who holds every scope of this token may see or copy its GUID";

/** The GUID with its copy button; masked, with copy disabled, where the server withheld it. */
function guidCell(row) {
  if (row.guid !== null) {
    return h("span", { class: "tkn-guid-wrap" }, h("code", { "data-testid": "guid" }, row.guid),
      copyButton(() => row.guid, "Copy GUID", `Copy GUID of ${row.name}`));
  }
  return h("span", { class: "tkn-guid-wrap", title: GUID_HIDDEN },
    h("code", { class: "tkn-masked", "data-testid": "guid" }, `${row.guid_prefix}-••••`),
    iconButton("copy", GUID_HIDDEN, { class: "tkn-icon tkn-copy", disabled: true, "aria-label": `Copy GUID of ${row.name}: ${GUID_HIDDEN}` }));
}

function render({ model, el }) {
  const viewId = Math.random().toString(36).slice(2, 10);
  let nextRequest = 1;
  const pending = new Map();
  const cleanups = [];

  function listen(event, fn) {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  }

  /** Ask Python to do something; resolves with its answer {ok, result | error, fields}. */
  function request(action, payload = {}) {
    const id = `${viewId}:${nextRequest++}`;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      model.send({ id, action, ...payload });
    });
  }

  listen("msg:custom", (msg) => {
    if (msg && pending.has(msg.id)) {
      const resolve = pending.get(msg.id);
      pending.delete(msg.id);
      resolve(msg);
    }
  });

  function setTrait(name, value) {
    model.set(name, value);
    model.save_changes();
  }

  // --- header ---------------------------------------------------------------------------------
  const who = h("span", { class: "tkn-who" });
  const busy = h("span", { class: "tkn-busy", role: "status", "aria-live": "polite" },
    h("span", { class: "tkn-spinner", "aria-hidden": "true" }), "Working…");
  const refreshButton = h("button", { type: "button", class: "tkn-button", "data-testid": "refresh", onclick: () => request("refresh") },
    h("span", { class: "tkn-button-icon", html: ICON.refresh }), "Refresh");
  const createButton = h("button", { type: "button", class: "tkn-button tkn-primary", "data-testid": "create", onclick: () => openForm(null) },
    h("span", { class: "tkn-button-icon", html: ICON.plus }), "Create token");
  const header = h("header", { class: "tkn-header" },
    h("div", { class: "tkn-heading" }, h("h2", {}, "API Tokens"), who),
    h("div", { class: "tkn-toolbar" }, busy, refreshButton, createButton));

  const errorBanner = h("div", { class: "tkn-banner tkn-error", role: "alert", "data-testid": "error" });
  const noticeBanner = h("div", { class: "tkn-banner tkn-notice", role: "status", "data-testid": "notice" });

  // --- filters ----------------------------------------------------------------------------------
  const nameInput = h("input", { type: "search", placeholder: "Keywords…", "aria-label": "Search by name", "data-testid": "name-filter" });
  const guidInput = h("input", { type: "search", placeholder: "First 4+ characters", "aria-label": "Search by GUID", "data-testid": "guid-filter", spellcheck: "false" });
  const sendName = debounce((value) => setTrait("name_filter", value), TYPING_DEBOUNCE_MS);
  const sendGuid = debounce((value) => setTrait("guid_filter", value), TYPING_DEBOUNCE_MS);
  nameInput.addEventListener("input", () => sendName(nameInput.value));
  guidInput.addEventListener("input", () => sendGuid(guidInput.value));
  cleanups.push(sendName.cancel, sendGuid.cancel);

  const scopeLabel = h("span", { class: "tkn-scope-label" });
  const scopeToggle = h("button", { type: "button", class: "tkn-select", "aria-haspopup": "listbox", "aria-expanded": "false", "data-testid": "scope-filter" },
    scopeLabel, h("span", { class: "tkn-chevron", html: ICON.chevron }));
  const scopeMenu = h("div", { class: "tkn-menu", role: "listbox", "aria-multiselectable": "true", hidden: true, "data-testid": "scope-menu" });
  const scopeFilter = h("div", { class: "tkn-dropdown" }, scopeToggle, scopeMenu);
  scopeToggle.addEventListener("click", () => {
    scopeMenu.hidden = !scopeMenu.hidden;
    scopeToggle.setAttribute("aria-expanded", String(!scopeMenu.hidden));
  });
  scopeFilter.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !scopeMenu.hidden) {
      scopeMenu.hidden = true;
      scopeToggle.setAttribute("aria-expanded", "false");
      scopeToggle.focus();
    }
  });
  const closeMenu = (event) => {
    if (!scopeFilter.contains(event.target)) {
      scopeMenu.hidden = true;
      scopeToggle.setAttribute("aria-expanded", "false");
    }
  };
  document.addEventListener("click", closeMenu);
  cleanups.push(() => document.removeEventListener("click", closeMenu));

  const statusSelect = h("select", { "aria-label": "Token status", "data-testid": "status-filter" },
    h("option", { value: "all" }, "All"), h("option", { value: "active" }, "Active"), h("option", { value: "inactive" }, "Inactive"));
  statusSelect.addEventListener("change", () => setTrait("status_filter", statusSelect.value));

  const hint = h("div", { class: "tkn-hint", "data-testid": "filter-hint" });
  const field = (label, control) => h("label", { class: "tkn-filter" }, h("span", {}, label), control);
  const filters = h("div", { class: "tkn-filters" },
    field("Search by name", nameInput), field("Search by GUID", guidInput),
    h("div", { class: "tkn-filter" }, h("span", {}, "Scopes"), scopeFilter),
    field("Token status", statusSelect));

  // --- grid -------------------------------------------------------------------------------------
  const sortHeader = (label, key, testid) => {
    const indicator = h("span", { class: "tkn-sort-indicator", "aria-hidden": "true" });
    const button = h("button", { type: "button", class: "tkn-sort", "data-testid": testid }, label, indicator);
    const th = h("th", { scope: "col" }, button);
    button.addEventListener("click", () => {
      const sort = model.get("sort");
      // Name starts A→Z; "Is active" starts with the active tokens first.
      const next = key === "name" ? (sort === "name" ? "-name" : "name") : (sort === "-is_active" ? "is_active" : "-is_active");
      setTrait("sort", next);
    });
    return { th, key, indicator };
  };
  const sortName = sortHeader("Name", "name", "sort-name");
  const sortActive = sortHeader("Is active", "is_active", "sort-active");
  const tbody = h("tbody", { "data-testid": "rows" });
  const table = h("table", { class: "tkn-grid" },
    h("thead", {}, h("tr", {}, sortName.th, h("th", { scope: "col" }, "GUID"), h("th", { scope: "col" }, "Active from"),
      h("th", { scope: "col" }, "Expiration"), sortActive.th, h("th", { scope: "col", class: "tkn-actions-col" }, h("span", { class: "tkn-offscreen" }, "Actions")))),
    tbody);

  // --- pager ------------------------------------------------------------------------------------
  const sizeSelect = h("select", { "aria-label": "Rows per page", "data-testid": "page-size" },
    PAGE_SIZES.map((n) => h("option", { value: String(n) }, String(n))));
  sizeSelect.addEventListener("change", () => setTrait("page_size", Number(sizeSelect.value)));
  const range = h("span", { class: "tkn-range", "data-testid": "range" });
  const prev = h("button", { type: "button", class: "tkn-button tkn-small", "data-testid": "prev", "aria-label": "Previous page", onclick: () => setTrait("page", model.get("page") - 1) }, "‹ Previous");
  const next = h("button", { type: "button", class: "tkn-button tkn-small", "data-testid": "next", "aria-label": "Next page", onclick: () => setTrait("page", model.get("page") + 1) }, "Next ›");
  const pager = h("footer", { class: "tkn-pager" },
    h("span", { class: "tkn-zone" }, `Times shown in ${timeZone}`),
    h("label", { class: "tkn-size" }, "Rows per page", sizeSelect), range, h("span", { class: "tkn-pages" }, prev, next));

  // Dialogs live on <body>: a notebook's output area may clip or transform fixed overlays.
  const layer = keepKeys(h("div", { class: "tkn-portal" }));
  document.body.append(layer);
  cleanups.push(() => layer.remove());
  const root = keepKeys(h("div", { class: "tkn" }, header, errorBanner, noticeBanner, filters, hint,
    h("div", { class: "tkn-table-wrap" }, table), pager));
  el.append(root);

  // In a narrow notebook the grid scrolls sideways under its sticky actions column; a shadow on
  // that column's edge shows there is more to see.
  const tableWrap = root.querySelector(".tkn-table-wrap");
  const overflow = () => root.classList.toggle("tkn-scrolls", tableWrap.scrollWidth > tableWrap.clientWidth + 1);
  if (typeof ResizeObserver !== "undefined") {
    const watcher = new ResizeObserver(overflow);
    watcher.observe(tableWrap);
    watcher.observe(table);
    cleanups.push(() => watcher.disconnect());
  }

  // --- drawing the synced state -----------------------------------------------------------------
  function drawnRows() {
    return [...tbody.querySelectorAll("tr[data-id]")];
  }

  function rowById(id, rows = drawnRows()) {
    return rows.find((tr) => tr.getAttribute("data-id") === id);
  }

  /** The control with this test id in that row, or the row's first usable button. */
  function controlIn(tr, testid) {
    if (!tr) return null;
    return tr.querySelector(`[data-testid="${testid}"]:not(:disabled)`) || tr.querySelector("button:not(:disabled)");
  }

  function drawRows() {
    const rows = model.get("_rows") || [];
    // A redraw must not drop the keyboard's place: note it, and put it back on the new row.
    const focused = tbody.contains(document.activeElement) ? document.activeElement : null;
    const focusedRow = focused && focused.closest("tr[data-id]");
    const place = focusedRow && {
      id: focusedRow.getAttribute("data-id"),
      index: [...tbody.children].indexOf(focusedRow),
      testid: focused.getAttribute("data-testid"),
    };
    tbody.replaceChildren();
    drawRowsInto(rows);
    if (place) {
      const all = drawnRows();
      const target = controlIn(rowById(place.id, all), place.testid) ||
        controlIn(all[Math.min(place.index, all.length - 1)], place.testid) || createButton;
      target.focus();
    }
  }

  function drawRowsInto(rows) {
    if (!model.get("_loaded")) {
      tbody.append(h("tr", { class: "tkn-empty" }, h("td", { colspan: "6" }, model.get("error") ? "Tokens could not be loaded." : "Loading tokens…")));
      return;
    }
    if (rows.length === 0) {
      const filtered = model.get("name_filter") || model.get("guid_filter") || (model.get("scope_filter") || []).length || model.get("status_filter") !== "all";
      tbody.append(h("tr", { class: "tkn-empty" }, h("td", { colspan: "6" }, filtered ? "No tokens match these filters." : "No tokens yet. Create the first one.")));
      return;
    }
    for (const row of rows) {
      const locked = !row.can_change;
      const whyLocked = "You do not hold every scope of this token";
      const status = row.is_active ? "Active" : { scheduled: "Scheduled", expired: "Expired", revoked: "Revoked" }[row.status] || "Inactive";
      tbody.append(h("tr", { "data-id": row.id, "data-testid": "row", "data-active": String(row.is_active) },
        h("td", { class: "tkn-name" }, h("span", { class: "tkn-name-text", "data-testid": "name" }, row.name),
          row.description ? h("span", { class: "tkn-desc" }, row.description) : null,
          h("span", { class: "tkn-scopes" }, row.scopes.map((s) => h("span", { class: "tkn-chip" }, s)))),
        h("td", { class: "tkn-guid" }, guidCell(row)),
        h("td", { title: fullDateFormat.format(new Date(row.valid_from)), "data-testid": "valid-from" }, localDate(row.valid_from)),
        h("td", { title: row.valid_to ? fullDateFormat.format(new Date(row.valid_to)) : "Never expires", "data-testid": "valid-to" },
          row.valid_to ? localDate(row.valid_to) : h("span", { class: "tkn-muted" }, "Never")),
        h("td", {}, h("span", { class: `tkn-status tkn-${row.is_active ? "active" : "inactive"}`, "data-testid": "status" }, status)),
        h("td", { class: "tkn-row-actions" },
          iconButton("edit", "Edit", { "aria-label": `Edit ${row.name}`, "data-testid": "edit", disabled: locked, title: locked ? whyLocked : "Edit", onclick: () => openForm(row) }),
          iconButton("revoke", "Revoke", { "aria-label": `Revoke ${row.name}`, "data-testid": "revoke", disabled: locked || !row.is_active, title: !row.is_active ? "Already inactive" : locked ? whyLocked : "Revoke", onclick: () => confirmAction("revoke", row) }),
          iconButton("trash", "Delete", { "aria-label": `Delete ${row.name}`, class: "tkn-icon tkn-danger-icon", "data-testid": "delete", disabled: locked, title: locked ? whyLocked : "Delete", onclick: () => confirmAction("delete", row) }))));
    }
  }

  function drawSort() {
    const sort = model.get("sort");
    for (const header of [sortName, sortActive]) {
      const active = sort.replace("-", "") === header.key;
      const descending = sort.startsWith("-");
      header.th.setAttribute("aria-sort", active ? (descending ? "descending" : "ascending") : "none");
      header.indicator.textContent = active ? (descending ? "▼" : "▲") : "↕";
      header.indicator.classList.toggle("tkn-sort-on", active);
    }
  }

  function drawPager() {
    const total = model.get("total");
    const size = model.get("page_size");
    const page = model.get("page");
    const first = total === 0 ? 0 : page * size + 1;
    const last = Math.min(total, (page + 1) * size);
    range.textContent = `${number.format(first)}–${number.format(last)} of ${number.format(total)}`;
    prev.disabled = page <= 0;
    next.disabled = last >= total;
    sizeSelect.value = String(size);
  }

  function drawScopes() {
    const scopes = model.get("_scopes") || [];
    const chosen = new Set(model.get("scope_filter") || []);
    scopeMenu.replaceChildren(...scopes.map((scope) => {
      const box = h("input", { type: "checkbox", value: scope.name, checked: chosen.has(scope.name) });
      box.addEventListener("change", () => {
        const picked = [...scopeMenu.querySelectorAll("input:checked")].map((b) => b.value);
        setTrait("scope_filter", picked);
      });
      return h("label", { class: "tkn-option", title: scope.description || scope.name, role: "option", "aria-selected": String(chosen.has(scope.name)) }, box, h("span", {}, scope.name));
    }));
    if (scopes.length === 0) scopeMenu.append(h("div", { class: "tkn-muted tkn-option" }, "No scopes"));
    const picked = [...chosen];
    scopeLabel.textContent = picked.length === 0 ? "All scopes" : picked.length <= 2 ? picked.join(", ") : `${picked.length} scopes`;
    scopeToggle.setAttribute("aria-label", `Scopes: ${picked.length === 0 ? "all" : picked.join(", ")}`);
  }

  function drawFilters() {
    // Never overwrite what the person is typing.
    if (document.activeElement !== nameInput) nameInput.value = model.get("name_filter");
    if (document.activeElement !== guidInput) guidInput.value = model.get("guid_filter");
    statusSelect.value = model.get("status_filter");
    hint.textContent = model.get("filter_hint");
    hint.hidden = !model.get("filter_hint");
  }

  function drawBanners() {
    const error = model.get("error");
    errorBanner.replaceChildren(error);
    errorBanner.hidden = !error;
    const notice = model.get("notice");
    noticeBanner.replaceChildren(notice);
    noticeBanner.hidden = !notice;
  }

  function drawBusy() {
    root.classList.toggle("tkn-is-busy", Boolean(model.get("busy")));
    busy.hidden = !model.get("busy");
  }

  function drawUser() {
    const user = model.get("_user") || {};
    who.textContent = user.name ? `Signed in as ${user.name}${user.admin ? " (admin)" : ""}` : "";
  }

  listen("change:_rows", drawRows);
  listen("change:_loaded", drawRows);
  listen("change:sort", drawSort);
  listen("change:total", drawPager);
  listen("change:page", drawPager);
  listen("change:page_size", drawPager);
  listen("change:_scopes", drawScopes);
  listen("change:scope_filter", drawScopes);
  for (const name of ["name_filter", "guid_filter", "status_filter", "filter_hint"]) listen(`change:${name}`, drawFilters);
  listen("change:error", () => { drawBanners(); drawRows(); });
  listen("change:notice", drawBanners);
  listen("change:busy", drawBusy);
  listen("change:_user", drawUser);

  // --- dialogs ----------------------------------------------------------------------------------
  let dialogCount = 0;

  /**
   * Focus goes back to the control that opened a dialog, or to the same control of its row once
   * the grid was redrawn (drawRows keeps it there when the new rows arrive later), or to Create.
   */
  function returnFocus(opener) {
    if (!opener) return;
    let target = opener.isConnected && !opener.disabled ? opener : null;
    const rowId = opener.closest("tr[data-id]")?.getAttribute("data-id");
    if (!target && rowId) {
      target = controlIn(rowById(rowId), opener.getAttribute("data-testid"));
    }
    (target || createButton).focus();
  }

  /**
   * A modal dialog on the page body: focus moves into it, Tab and Shift+Tab cycle inside it,
   * Escape or close() removes it and focus goes back to the control that opened it.
   */
  function openDialog(title, body, footer, testid, describedBy) {
    const headingId = `tkn-${viewId}-dialog-${++dialogCount}`;
    const dialog = h("div", { class: "tkn-dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": headingId,
      "aria-describedby": describedBy, "data-testid": testid },
      h("div", { class: "tkn-dialog-head" }, h("h3", { id: headingId }, title)), body, footer);
    const overlay = h("div", { class: "tkn-overlay" }, dialog);
    const opener = document.activeElement instanceof HTMLElement && document.activeElement !== document.body ? document.activeElement : null;
    const focusables = () => [...dialog.querySelectorAll(FOCUSABLE)].filter((node) => node.getClientRects().length > 0);
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      overlay.remove();
      document.removeEventListener("focusin", keepFocus, true);
      returnFocus(opener);
    };
    overlay.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        close();
      } else if (event.key === "Tab") {
        const nodes = focusables();
        if (nodes.length === 0) return;
        const first = nodes[0];
        const last = nodes[nodes.length - 1];
        const inside = dialog.contains(document.activeElement);
        if (event.shiftKey && (document.activeElement === first || !inside)) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
          event.preventDefault();
          first.focus();
        }
      }
    });
    // Focus that lands outside (a click on the backdrop, the notebook taking it back) returns.
    const keepFocus = (event) => {
      if (open && !overlay.contains(event.target)) (focusables()[0] || dialog).focus();
    };
    overlay.addEventListener("mousedown", (event) => {
      if (event.target === overlay) event.preventDefault();
    });
    dialog.tabIndex = -1;
    document.addEventListener("focusin", keepFocus, true);
    cleanups.push(close);
    layer.replaceChildren(overlay);
    return close;
  }

  function confirmAction(kind, row) {
    const texts = {
      revoke: ["Revoke token", `Revoke “${row.name}”? It stops working now and its Valid to becomes the current time. A revoked token cannot be activated again.`, "Revoke"],
      delete: ["Delete token", `Delete “${row.name}”? Anything still using it stops working. This cannot be undone.`, "Delete"],
    }[kind];
    const problem = h("div", { class: "tkn-banner tkn-error", role: "alert", hidden: true });
    const cancel = h("button", { type: "button", class: "tkn-button", "data-testid": "cancel" }, "Cancel");
    const confirm = h("button", { type: "button", class: "tkn-button tkn-danger", "data-testid": "confirm" }, texts[2]);
    const textId = `tkn-${viewId}-confirm-text`;
    const close = openDialog(texts[0], h("div", { class: "tkn-dialog-body" }, h("p", { id: textId }, texts[1]), problem),
      h("div", { class: "tkn-dialog-foot" }, cancel, confirm), `confirm-${kind}`, textId);
    cancel.addEventListener("click", close);
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      confirm.textContent = kind === "revoke" ? "Revoking…" : "Deleting…";
      const answer = await request(kind, { token_id: row.id, version: row.version });
      if (answer.ok) {
        close();
        return;
      }
      problem.textContent = answer.error;
      problem.hidden = false;
      confirm.textContent = texts[2];
    });
    cancel.focus(); // the least destructive choice
  }

  function openForm(row) {
    const editing = row !== null;
    const locked = editing && row.status === "revoked";
    const draft = {
      name: editing ? row.name : "",
      scopes: editing ? [...row.scopes] : [],
      guid: editing ? row.guid : "",
      description: editing ? row.description : "",
      valid_from: editing ? toLocalInput(row.valid_from) : "",
      valid_to: editing ? toLocalInput(row.valid_to) : "",
    };
    const touched = new Set();
    let verdict = { valid: false, errors: {} };
    const messages = {};
    const message = (key) => (messages[key] = h("div", { class: "tkn-field-error", "data-testid": `error-${key}` }));

    const nameInput = h("input", { type: "text", maxlength: "200", value: draft.name, "data-testid": "form-name", required: true, autocomplete: "off" });
    const scopeChips = h("div", { class: "tkn-chips", role: "group", "aria-label": "Scopes", "data-testid": "form-scopes" },
      (model.get("_scopes") || []).map((scope) => {
        const chip = h("button", { type: "button", class: "tkn-toggle", "aria-pressed": String(draft.scopes.includes(scope.name)), title: scope.description || scope.name, "data-scope": scope.name, disabled: locked }, scope.name);
        chip.addEventListener("click", () => {
          const on = chip.getAttribute("aria-pressed") !== "true";
          chip.setAttribute("aria-pressed", String(on));
          draft.scopes = on ? [...draft.scopes, scope.name] : draft.scopes.filter((s) => s !== scope.name);
          changed("scopes");
        });
        return chip;
      }));
    const guidInput = h("input", { type: "text", readonly: true, value: draft.guid, class: "tkn-mono", "data-testid": "form-guid", "aria-label": "GUID", tabindex: "-1" });
    const regenerate = iconButton("refresh", "Regenerate GUID", { "data-testid": "form-regenerate", disabled: locked });
    regenerate.addEventListener("click", async () => {
      const answer = await request("new_guid");
      if (answer.ok) {
        draft.guid = answer.result.guid;
        guidInput.value = draft.guid;
        changed("guid");
      }
    });
    const description = h("textarea", { rows: "3", maxlength: "2000", "data-testid": "form-description" });
    description.value = draft.description;
    const minimum = nowLocalInput();
    // "min" greys out past days and times in the browser's calendar.
    const validFrom = h("input", { type: "datetime-local", min: minimum, value: draft.valid_from, "data-testid": "form-valid-from", disabled: locked });
    const validTo = h("input", { type: "datetime-local", min: minimum, value: draft.valid_to, "data-testid": "form-valid-to", disabled: locked });
    const problem = h("div", { class: "tkn-banner tkn-error", role: "alert", hidden: true, "data-testid": "form-error" });

    const labelled = (label, required, control, key, help) => {
      const id = `tkn-${viewId}-${key}`;
      const input = control.matches("input, textarea, select") ? control : null;
      const helpNode = help ? h("div", { class: "tkn-help", id: `${id}-help` }, help) : null;
      if (input) {
        input.id = id;
        if (required) input.setAttribute("aria-required", "true");
        input.setAttribute("aria-describedby", [helpNode ? `${id}-help` : "", `${id}-error`].filter(Boolean).join(" "));
      }
      const errorNode = message(key);
      errorNode.id = `${id}-error`;
      return h("div", { class: "tkn-field" },
        h("label", { for: input ? id : undefined }, label, required ? h("span", { class: "tkn-required", "aria-hidden": "true" }, " *") : null),
        control, helpNode, errorNode);
    };
    const body = h("div", { class: "tkn-dialog-body tkn-form" },
      labelled("Name", true, nameInput, "name"),
      labelled("Scopes", true, scopeChips, "scopes", locked ? "A revoked token keeps its scopes." : null),
      labelled("GUID", false, h("div", { class: "tkn-guid-field" }, guidInput, copyButton(() => draft.guid, "Copy GUID"), regenerate), "guid"),
      labelled("Description", false, description, "description"),
      h("div", { class: "tkn-two" },
        labelled("Valid from", false, validFrom, "valid_from", "Empty: from the moment it is saved."),
        labelled("Valid to", false, validTo, "valid_to", "Empty: never expires.")),
      problem);
    const cancel = h("button", { type: "button", class: "tkn-button", "data-testid": "form-cancel" }, "Cancel");
    const save = h("button", { type: "button", class: "tkn-button tkn-primary", disabled: true, "data-testid": "form-save" }, "Save");
    const close = openDialog(editing ? "Edit token" : "Create token", body, h("div", { class: "tkn-dialog-foot" }, cancel, save), "token-form");
    cancel.addEventListener("click", close);

    function payload() {
      return {
        token_id: editing ? row.id : null,
        version: editing ? row.version : null,
        draft: { ...draft, valid_from: fromLocalInput(draft.valid_from), valid_to: fromLocalInput(draft.valid_to) },
      };
    }

    function showErrors(errors) {
      for (const [key, node] of Object.entries(messages)) {
        // A field is marked once it was touched, or after an attempt to save.
        const text = errors[key] && (touched.has(key) || touched.has("*")) ? errors[key] : "";
        node.textContent = text;
        node.closest(".tkn-field").classList.toggle("tkn-invalid", Boolean(text));
      }
    }

    let generation = 0;
    const validate = debounce(async () => {
      const mine = ++generation;
      const answer = await request("validate", payload());
      if (mine !== generation || !answer.ok) return;
      verdict = answer.result;
      save.disabled = !verdict.valid;
      showErrors(verdict.errors);
    }, VALIDATE_DEBOUNCE_MS);
    cleanups.push(validate.cancel);

    function changed(key) {
      touched.add(key);
      save.disabled = true;
      validate();
    }

    nameInput.addEventListener("input", () => { draft.name = nameInput.value; changed("name"); });
    description.addEventListener("input", () => { draft.description = description.value; changed("description"); });
    for (const [input, key] of [[validFrom, "valid_from"], [validTo, "valid_to"]]) {
      input.addEventListener("input", () => { draft[key] = input.value; changed(key); });
      input.addEventListener("focus", () => { input.min = nowLocalInput(); });
    }

    save.addEventListener("click", async () => {
      save.disabled = true;
      save.textContent = "Saving…";
      problem.hidden = true;
      const answer = await request("save", payload());
      save.textContent = "Save";
      if (answer.ok) {
        close();
        return;
      }
      touched.add("*");
      showErrors(answer.fields || {});
      problem.textContent = answer.error;
      problem.hidden = false;
      save.disabled = false;
    });

    if (!editing) {
      request("new_guid").then((answer) => {
        if (answer.ok) {
          draft.guid = answer.result.guid;
          guidInput.value = draft.guid;
          validate();
        }
      });
    } else {
      validate();
    }
    nameInput.focus();
  }

  drawRows();
  drawSort();
  drawPager();
  drawScopes();
  drawFilters();
  drawBanners();
  drawBusy();
  drawUser();
  request("hello");

  return () => {
    for (const fn of cleanups) fn();
    pending.clear();
  };
}

export default { render };
