// The API Tokens page. Python owns state, rules and server calls; this module only renders
// the synced state and sends the person's intentions back (trait changes, or requests with ids).
// One module, as anywidget imports it from its text, where sibling modules cannot resolve: the
// usage parts live in usage.js, which widget.py appends to this file's text.
// Each part below is a factory returning {node, draw, dispose}: it draws itself from the model
// and removes every listener it added when disposed. The limits come from Python (_limits).

const TYPING_DEBOUNCE_MS = 300;
const VALIDATE_DEBOUNCE_MS = 120;
const ICON = {
  copy: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h8"/></svg>',
  check: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 12l5 5L20 7"/></svg>',
  refresh: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/></svg>',
  edit: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13.5 6.5l4 4"/></svg>',
  revoke: '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="8"/><path d="M6.5 6.5l11 11"/></svg>',
  trash: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/></svg>',
  plus: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 5v14M5 12h14"/></svg>',
  history: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 12a8 8 0 1 0 2.3-5.7"/><path d="M4 4v5h5"/><path d="M12 8v4l3 2"/></svg>',
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

let keysMarked = false;

/**
 * Keep keys pressed in here away from the notebook around us. In command mode a plain "x", "a"
 * or "d d" typed while one of our buttons or selects has focus would cut, insert or delete
 * notebook cells. Chords with Ctrl, Alt or Meta (save, the command palette) and Shift+Enter (run
 * the cell) still reach the notebook.
 *
 * JupyterLab handles keydown as it bubbles to the document, so stopping it here is enough there.
 * Notebook 7 handles it on the document on the way down (capture phase), before any listener on
 * our node runs. Its shortcut matcher walks up from the focused element and gives up at one
 * marked data-lm-suppress-shortcuts; the focused button itself already matches the command-mode
 * shortcuts, so it is the one to mark. One capture listener on the window, which sees each key
 * before the document does, marks it for the keys we keep and unmarks it for those that pass.
 */
function keepKeys(node) {
  node.setAttribute("data-tkn-keep-keys", "");
  node.addEventListener("keydown", (event) => {
    if (!passesToNotebook(event)) event.stopPropagation();
  });
  if (!keysMarked) {
    keysMarked = true;
    window.addEventListener("keydown", (event) => {
      const target = event.target;
      if (target instanceof Element && target.closest("[data-tkn-keep-keys]")) {
        target.toggleAttribute("data-lm-suppress-shortcuts", !passesToNotebook(event));
      }
    }, true);
  }
  return node;
}

function passesToNotebook(event) {
  const chord = event.ctrlKey || event.metaKey || event.altKey;
  return chord || (event.key === "Enter" && event.shiftKey);
}

/** A copy button, with a polite live region beside it that tells screen readers the outcome. */
function copyButton(getText, label, name = label) {
  const button = iconButton("copy", label, { class: "tkn-icon tkn-copy", "aria-label": name });
  const said = h("span", { class: "tkn-sr-only", role: "status", "aria-live": "polite", "data-testid": "copy-status" });
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    const ok = await copyText(getText());
    button.innerHTML = ok ? ICON.check : ICON.copy;
    button.classList.toggle("tkn-copied", ok);
    button.title = ok ? "Copied" : "Copy failed";
    said.textContent = ok ? "Copied to the clipboard" : "Copy failed";
    setTimeout(() => {
      button.innerHTML = ICON.copy;
      button.classList.remove("tkn-copied");
      button.title = label;
      said.textContent = "";
    }, 1500);
  });
  return h("span", { class: "tkn-copy-wrap" }, button, said);
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


/** Listen on a model or DOM target; answers the function that stops listening. */
function on(target, event, fn, options) {
  if (typeof target.on === "function" && typeof target.off === "function") {
    target.on(event, fn);
    return () => target.off(event, fn);
  }
  target.addEventListener(event, fn, options);
  return () => target.removeEventListener(event, fn, options);
}

/** Listen to several of the model's traits; answers one function that stops them all. */
function onTraits(model, names, fn) {
  const offs = names.map((name) => on(model, `change:${name}`, fn));
  return () => offs.forEach((off) => off());
}

function setTrait(model, name, value) {
  model.set(name, value);
  model.save_changes();
}

/** The request a view still waited for when it went away. */
class ViewClosed extends Error {}

/** A request's answer, or null when the view closed first (nothing is left to update). */
function unlessClosed(error) {
  if (error instanceof ViewClosed) return null;
  throw error;
}

/**
 * Requests to Python with ids: request(action, payload) resolves with its answer {ok, result |
 * error, fields}; dispose() rejects every request still waiting.
 */
function rpc(model) {
  const viewId = Math.random().toString(36).slice(2, 10);
  let nextRequest = 1;
  const pending = new Map();
  const off = on(model, "msg:custom", (msg) => {
    if (msg && pending.has(msg.id)) {
      const { resolve } = pending.get(msg.id);
      pending.delete(msg.id);
      resolve(msg);
    }
  });
  return {
    viewId,
    request(action, payload = {}) {
      const id = `${viewId}:${nextRequest++}`;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        model.send({ id, action, ...payload });
      });
    },
    dispose() {
      off();
      for (const { reject } of pending.values()) reject(new ViewClosed("the view was closed"));
      pending.clear();
    },
  };
}

/** The title, who is signed in, the busy indicator, Refresh and Create. */
function header(model, { onRefresh, onCreate }) {
  const who = h("span", { class: "tkn-who" });
  const busy = h("span", { class: "tkn-busy", role: "status", "aria-live": "polite" },
    h("span", { class: "tkn-spinner", "aria-hidden": "true" }), "Working…");
  const createButton = h("button", { type: "button", class: "tkn-button tkn-primary", "data-testid": "create", onclick: onCreate },
    h("span", { class: "tkn-button-icon", html: ICON.plus }), "Create token");
  const node = h("header", { class: "tkn-header" },
    h("div", { class: "tkn-heading" }, h("h2", {}, "API Tokens"), who),
    h("div", { class: "tkn-toolbar" }, busy,
      h("button", { type: "button", class: "tkn-button", "data-testid": "refresh", onclick: onRefresh },
        h("span", { class: "tkn-button-icon", html: ICON.refresh }), "Refresh"),
      createButton));
  function draw() {
    const user = model.get("_user") || {};
    who.textContent = user.name ? `Signed in as ${user.name}${user.admin ? " (admin)" : ""}` : "";
    busy.hidden = !model.get("busy");
  }
  const dispose = onTraits(model, ["_user", "busy"], draw);
  return { node, draw, dispose, createButton };
}

/** The last problem and the last thing done, in plain words. */
function banners(model) {
  const errorBanner = h("div", { class: "tkn-banner tkn-error", role: "alert", "data-testid": "error" });
  const noticeBanner = h("div", { class: "tkn-banner tkn-notice", role: "status", "data-testid": "notice" });
  const node = h("div", { class: "tkn-banners" }, errorBanner, noticeBanner);
  function draw() {
    const error = model.get("error");
    errorBanner.replaceChildren(error);
    errorBanner.hidden = !error;
    const notice = model.get("notice");
    noticeBanner.replaceChildren(notice);
    noticeBanner.hidden = !notice;
  }
  return { node, draw, dispose: onTraits(model, ["error", "notice"], draw) };
}

/** "3 tokens expire within 7 days — show": the tokens about to expire, one click away. */
function expiryNotice(model) {
  const text = h("span", { "data-testid": "expiring-text" });
  const button = h("button", { type: "button", class: "tkn-link", "data-testid": "expiring-show" });
  const node = h("div", { class: "tkn-banner tkn-expiring", role: "status", "data-testid": "expiring" }, text, button);
  button.addEventListener("click", () => setTrait(model, "expiring_only", !model.get("expiring_only")));
  function draw() {
    const count = model.get("expiring");
    const days = model.get("expiry_warning_days");
    const only = model.get("expiring_only");
    const within = `within ${days === 1 ? "1 day" : `${days} days`}`;
    node.hidden = !only && count === 0;
    text.textContent = only
      ? `Showing the tokens that expire ${within} — `
      : `${count === 1 ? "1 token expires" : `${count} tokens expire`} ${within} — `;
    button.textContent = only ? "show all" : "show";
  }
  return { node, draw, dispose: onTraits(model, ["expiring", "expiry_warning_days", "expiring_only"], draw) };
}

/** Search by name and GUID (sent once the typing pauses), scopes, status, and the hint. */
function filterBar(model, limits) {
  const nameInput = h("input", { type: "search", placeholder: "Keywords…", "aria-label": "Search by name", "data-testid": "name-filter" });
  const guidInput = h("input", { type: "search", placeholder: `First ${limits.guid_filter_min}+ characters`, "aria-label": "Search by GUID", "data-testid": "guid-filter", spellcheck: "false" });
  const sendName = debounce((value) => setTrait(model, "name_filter", value), TYPING_DEBOUNCE_MS);
  const sendGuid = debounce((value) => setTrait(model, "guid_filter", value), TYPING_DEBOUNCE_MS);
  nameInput.addEventListener("input", () => sendName(nameInput.value));
  guidInput.addEventListener("input", () => sendGuid(guidInput.value));

  const scopeLabel = h("span", { class: "tkn-scope-label" });
  const scopeToggle = h("button", { type: "button", class: "tkn-select", "aria-haspopup": "listbox", "aria-expanded": "false", "data-testid": "scope-filter" },
    scopeLabel, h("span", { class: "tkn-chevron", html: ICON.chevron }));
  const scopeMenu = h("div", { class: "tkn-menu", role: "listbox", "aria-multiselectable": "true", hidden: true, "data-testid": "scope-menu" });
  const scopeFilter = h("div", { class: "tkn-dropdown" }, scopeToggle, scopeMenu);
  const showMenu = (shown) => {
    scopeMenu.hidden = !shown;
    scopeToggle.setAttribute("aria-expanded", String(shown));
  };
  scopeToggle.addEventListener("click", () => showMenu(scopeMenu.hidden));
  scopeFilter.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !scopeMenu.hidden) {
      showMenu(false);
      scopeToggle.focus();
    }
  });

  const statusSelect = h("select", { "aria-label": "Token status", "data-testid": "status-filter" },
    h("option", { value: "all" }, "All"), h("option", { value: "active" }, "Active"), h("option", { value: "inactive" }, "Inactive"));
  statusSelect.addEventListener("change", () => setTrait(model, "status_filter", statusSelect.value));

  const hint = h("div", { class: "tkn-hint", "data-testid": "filter-hint" });
  const field = (label, control) => h("label", { class: "tkn-filter" }, h("span", {}, label), control);
  const node = h("div", { class: "tkn-filter-bar" },
    h("div", { class: "tkn-filters" },
      field("Search by name", nameInput), field("Search by GUID", guidInput),
      h("div", { class: "tkn-filter" }, h("span", {}, "Scopes"), scopeFilter),
      field("Token status", statusSelect)),
    hint);

  let drawnScopes = "";
  function drawScopes() {
    const scopes = model.get("_scopes") || [];
    const chosen = new Set(model.get("scope_filter") || []);
    // Rebuilt only when the scopes themselves change: ticking a box must not take away the
    // focus it has (Escape would then no longer reach the menu).
    const names = JSON.stringify(scopes.map((scope) => [scope.name, scope.description]));
    if (names !== drawnScopes) {
      drawnScopes = names;
      scopeMenu.replaceChildren(...scopes.map((scope) => {
        const box = h("input", { type: "checkbox", value: scope.name });
        box.addEventListener("change", () => {
          const picked = [...scopeMenu.querySelectorAll("input:checked")].map((b) => b.value);
          setTrait(model, "scope_filter", picked);
        });
        return h("label", { class: "tkn-option", title: scope.description || scope.name, role: "option" }, box, h("span", {}, scope.name));
      }));
      if (scopes.length === 0) scopeMenu.append(h("div", { class: "tkn-muted tkn-option" }, "No scopes"));
    }
    for (const box of scopeMenu.querySelectorAll("input")) {
      box.checked = chosen.has(box.value);
      box.parentElement.setAttribute("aria-selected", String(box.checked));
    }
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

  const offs = [
    on(document, "click", (event) => { if (!scopeFilter.contains(event.target)) showMenu(false); }),
    onTraits(model, ["_scopes", "scope_filter"], drawScopes),
    onTraits(model, ["name_filter", "guid_filter", "status_filter", "filter_hint"], drawFilters),
  ];
  return {
    node,
    draw() { drawScopes(); drawFilters(); },
    dispose() {
      sendName.cancel();
      sendGuid.cancel();
      offs.forEach((off) => off());
    },
  };
}

const WHY_LOCKED = "You do not hold every scope of this token";
const STATUS_WORDS = { scheduled: "Scheduled", expired: "Expired", revoked: "Revoked" };

/**
 * One row of the grid. Built once per token id and updated in place when the token changes, so
 * a focused button stays where it is. The buttons act on the row's latest state (row.current).
 */
function gridRow({ onEdit, onConfirm, onHistory, onSelect }) {
  const row = { current: null };
  const pick = h("input", { type: "checkbox", class: "tkn-pick", "data-testid": "select-row" });
  pick.addEventListener("change", () => onSelect([row.current.id], pick.checked));
  const name = h("span", { class: "tkn-name-text", "data-testid": "name" });
  const description = h("span", { class: "tkn-desc" });
  const scopes = h("span", { class: "tkn-scopes" });
  const guid = h("td", { class: "tkn-guid" });
  const validFrom = h("td", { "data-testid": "valid-from" });
  const validTo = h("td", { "data-testid": "valid-to" });
  const lastUsed = h("td", { "data-testid": "last-used" });
  const uses = h("td", { class: "tkn-uses", "data-testid": "uses" });
  const status = h("span", { "data-testid": "status" });
  const edit = iconButton("edit", "Edit", { "data-testid": "edit", onclick: () => onEdit(row.current) });
  const revoke = iconButton("revoke", "Revoke", { "data-testid": "revoke", onclick: () => onConfirm("revoke", row.current) });
  const remove = iconButton("trash", "Delete", { class: "tkn-icon tkn-danger-icon", "data-testid": "delete", onclick: () => onConfirm("delete", row.current) });
  const history = iconButton("history", "History", { "data-testid": "history", onclick: () => onHistory(row.current) });
  const nameCell = h("td", { class: "tkn-name" }, name, scopes);
  row.node = h("tr", { "data-testid": "row" }, h("td", { class: "tkn-pick-cell" }, pick), nameCell, guid, validFrom, validTo, lastUsed, uses,
    h("td", {}, status), h("td", { class: "tkn-row-actions" }, history, edit, revoke, remove));
  let drawn = "";

  row.draw = (data, picked, usage, days) => {
    row.current = data;
    const key = JSON.stringify([data, picked, usage, days]);
    if (key === drawn) return;
    drawn = key;
    const locked = !data.can_change;
    const focused = row.node.contains(document.activeElement) ? document.activeElement : null;
    row.node.setAttribute("data-id", data.id);
    row.node.setAttribute("data-active", String(data.is_active));
    name.textContent = data.name;
    description.textContent = data.description;
    if (data.description) nameCell.insertBefore(description, scopes);
    else description.remove();
    scopes.replaceChildren(...data.scopes.map((s) => h("span", { class: "tkn-chip" }, s)));
    guid.replaceChildren(guidCell(data));
    const oldUntil = data.previous_guid_until ? new Date(data.previous_guid_until) : null;
    if (oldUntil && oldUntil > new Date()) {
      guid.append(h("span", { class: "tkn-old-guid", "data-testid": "previous-guid-note", title: fullDateFormat.format(oldUntil) },
        `Old GUID valid until ${dayFormat.format(oldUntil)} ${timeFormat.format(oldUntil)}`));
    }
    validFrom.title = fullDateFormat.format(new Date(data.valid_from));
    validFrom.replaceChildren(...localDate(data.valid_from));
    validTo.title = data.valid_to ? fullDateFormat.format(new Date(data.valid_to)) : "Never expires";
    validTo.replaceChildren(...(data.valid_to ? localDate(data.valid_to) : [h("span", { class: "tkn-muted" }, "Never")]));
    if (data.expiry_note) validTo.append(h("span", { class: "tkn-expiry", "data-testid": "expiry-note" }, data.expiry_note));
    lastUsed.title = data.last_used_at ? fullDateFormat.format(new Date(data.last_used_at)) : "Never used";
    lastUsed.replaceChildren(data.last_used_at ? usedAgo(data.last_used_at) : h("span", { class: "tkn-muted" }, "Never"));
    drawUsageCell(uses, usage, days);
    status.className = `tkn-status tkn-${data.is_active ? "active" : "inactive"}`;
    status.textContent = data.is_active ? "Active" : STATUS_WORDS[data.status] || "Inactive";
    const label = (button, verb, disabled, title) => {
      button.setAttribute("aria-label", `${verb} ${data.name}`);
      button.disabled = disabled;
      button.title = title;
    };
    label(edit, "Edit", locked, locked ? WHY_LOCKED : "Edit");
    label(revoke, "Revoke", locked || !data.is_active, !data.is_active ? "Already inactive" : locked ? WHY_LOCKED : "Revoke");
    label(remove, "Delete", locked, locked ? WHY_LOCKED : "Delete");
    history.setAttribute("aria-label", `History of ${data.name}`);
    // Only a token the caller may change can be picked for a bulk revoke or delete.
    pick.checked = picked;
    pick.disabled = locked;
    pick.setAttribute("aria-label", `Select ${data.name}`);
    pick.title = locked ? WHY_LOCKED : `Select ${data.name}`;
    // A button disabled under the keyboard (Revoke, once revoked) hands it to its row's next.
    if (focused?.disabled) firstEnabled(row.node)?.focus();
  };
  return row;
}

function firstEnabled(node) {
  return node?.querySelector("button:not(:disabled)") ?? null;
}

/** The sortable table of one page of tokens; rows are kept by id between draws. */
function grid(model, limits, actions, fallbackFocus) {
  // A column sorts by the server's sort of its key; a first click sorts one way, the next the
  // other. "Is active" starts with the active tokens, every other column ascending.
  const sortHeader = (label, key, testid) => {
    const indicator = h("span", { class: "tkn-sort-indicator", "aria-hidden": "true" });
    const button = h("button", { type: "button", class: "tkn-sort", "data-testid": testid }, label, indicator);
    const th = h("th", { scope: "col" }, button);
    const first = key === "is_active" ? "-is_active" : key;
    const other = first.startsWith("-") ? first.slice(1) : `-${first}`;
    button.addEventListener("click", () => setTrait(model, "sort", model.get("sort") === first ? other : first));
    return { th, key, indicator };
  };
  const headerCell = (label, key, testid) => (limits.sorts.includes(key) ? sortHeader(label, key, testid) : { th: h("th", { scope: "col" }, label) });
  const pageBox = h("input", { type: "checkbox", class: "tkn-pick", "aria-label": "Select all on this page", title: "Select all on this page", "data-testid": "select-page" });
  const changeable = () => (model.get("_rows") || []).filter((item) => item.can_change).map((item) => item.id);
  pageBox.addEventListener("change", () => actions.onSelect(pageBox.checked ? changeable() : (model.get("_rows") || []).map((item) => item.id), pageBox.checked));
  const columns = [
    { th: h("th", { scope: "col", class: "tkn-pick-cell" }, pageBox) },
    headerCell("Name", "name", "sort-name"),
    { th: h("th", { scope: "col" }, "GUID") },
    headerCell("Active from", "valid_from", "sort-valid-from"),
    headerCell("Expiration", "valid_to", "sort-valid-to"),
    headerCell("Last used", "last_used_at", "sort-last-used"),
    { th: h("th", { scope: "col", title: "Verifications answered valid in the last 14 days (UTC), per day" }, "Uses (14 d)") },
    headerCell("Is active", "is_active", "sort-active"),
    { th: h("th", { scope: "col", class: "tkn-actions-col" }, h("span", { class: "tkn-offscreen" }, "Actions")) },
  ];
  const sortable = columns.filter((c) => c.key);
  const tbody = h("tbody", { "data-testid": "rows" });
  const table = h("table", { class: "tkn-grid" }, h("thead", {}, h("tr", {}, ...columns.map((c) => c.th))), tbody);
  const node = h("div", { class: "tkn-table-wrap" }, table);
  const rows = new Map(); // token id -> gridRow

  function message(text) {
    return h("tr", { class: "tkn-empty" }, h("td", { colspan: String(columns.length) }, text));
  }

  function drawRows() {
    const data = model.get("_rows") || [];
    const picked = new Set(model.get("selected") || []);
    const usage = model.get("_usage") || {};
    const pickable = changeable();
    const onPage = pickable.filter((id) => picked.has(id)).length;
    pageBox.checked = pickable.length > 0 && onPage === pickable.length;
    pageBox.indeterminate = onPage > 0 && onPage < pickable.length;
    pageBox.disabled = pickable.length === 0;
    let wanted;
    if (!model.get("_loaded")) {
      wanted = [message(model.get("error") ? "Tokens could not be loaded." : "Loading tokens…")];
    } else if (data.length === 0) {
      const filtered = model.get("name_filter") || model.get("guid_filter") || (model.get("scope_filter") || []).length || model.get("status_filter") !== "all";
      wanted = [message(filtered ? "No tokens match these filters." : "No tokens yet. Create the first one.")];
    } else {
      wanted = data.map((item) => {
        let row = rows.get(item.id);
        if (!row) {
          row = gridRow(actions);
          rows.set(item.id, row);
        }
        row.draw(item, picked.has(item.id), usage.tokens?.[item.id], usage.days || []);
        return row.node;
      });
    }
    const keep = new Set(wanted);
    for (const [id, row] of rows) {
      if (!keep.has(row.node)) rows.delete(id);
    }
    // A row that goes away with the keyboard in it (deleted) hands it to the row taking its place.
    const lost = [...tbody.children].findIndex((tr) => !keep.has(tr) && tr.contains(document.activeElement));
    for (const child of [...tbody.children]) {
      if (!keep.has(child)) child.remove();
    }
    // Move only the rows out of place, so a row holding the focus is not taken out and back.
    wanted.forEach((tr, index) => {
      if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
    });
    if (lost >= 0) (firstEnabled(tbody.children[Math.min(lost, tbody.children.length - 1)]) ?? fallbackFocus)?.focus();
  }

  function drawSort() {
    const sort = model.get("sort");
    for (const column of sortable) {
      const active = sort.replace("-", "") === column.key;
      const descending = sort.startsWith("-");
      column.th.setAttribute("aria-sort", active ? (descending ? "descending" : "ascending") : "none");
      column.indicator.textContent = active ? (descending ? "▼" : "▲") : "↕";
      column.indicator.classList.toggle("tkn-sort-on", active);
    }
  }

  // In a narrow notebook the grid scrolls sideways under its sticky actions column; a shadow on
  // that column's edge shows there is more to see.
  let watcher = null;
  if (typeof ResizeObserver !== "undefined") {
    watcher = new ResizeObserver(() => node.classList.toggle("tkn-scrolls", node.scrollWidth > node.clientWidth + 1));
    watcher.observe(node);
    watcher.observe(table);
  }
  // The filters too: with no rows before and after a filter changes, only they tell "none yet"
  // from "none match".
  const shown = ["_rows", "_usage", "_loaded", "error", "selected", "name_filter", "guid_filter", "scope_filter", "status_filter"];
  const offs = [onTraits(model, shown, drawRows), onTraits(model, ["sort"], drawSort)];
  return {
    node,
    pageBox,
    draw() { drawRows(); drawSort(); },
    dispose() {
      watcher?.disconnect();
      offs.forEach((off) => off());
    },
  };
}

/** Rows per page, the range shown, and previous/next. */
function pager(model, limits) {
  const sizeSelect = h("select", { "aria-label": "Rows per page", "data-testid": "page-size" },
    limits.page_sizes.map((n) => h("option", { value: String(n) }, String(n))));
  sizeSelect.addEventListener("change", () => setTrait(model, "page_size", Number(sizeSelect.value)));
  const range = h("span", { class: "tkn-range", "data-testid": "range" });
  const prev = h("button", { type: "button", class: "tkn-button tkn-small", "data-testid": "prev", "aria-label": "Previous page", onclick: () => setTrait(model, "page", model.get("page") - 1) }, "‹ Previous");
  const next = h("button", { type: "button", class: "tkn-button tkn-small", "data-testid": "next", "aria-label": "Next page", onclick: () => setTrait(model, "page", model.get("page") + 1) }, "Next ›");
  const node = h("footer", { class: "tkn-pager" },
    h("span", { class: "tkn-zone" }, `Times shown in ${timeZone}`),
    h("label", { class: "tkn-size" }, "Rows per page", sizeSelect), range, h("span", { class: "tkn-pages" }, prev, next));
  function draw() {
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
  return { node, draw, dispose: onTraits(model, ["total", "page", "page_size"], draw) };
}

/**
 * Where dialogs open: on <body>, as a notebook's output area may clip or transform fixed
 * overlays. One dialog at a time; dispose() closes it.
 */
function dialogLayer(fallbackFocus) {
  const node = keepKeys(h("div", { class: "tkn-portal" }));
  document.body.append(node);
  let closeOpen = null;
  let count = 0;
  return {
    nextId: () => ++count,
    open(options) {
      closeOpen?.();
      // A dialog may name where focus goes when its opener is gone; else the layer's default.
      const close = openDialog(node, { ...options, fallbackFocus: [options.fallbackFocus, fallbackFocus], onClosed: () => { if (closeOpen === close) closeOpen = null; options.onClosed?.(); } });
      closeOpen = close;
      return close;
    },
    dispose() {
      closeOpen?.();
      node.remove();
    },
  };
}

/**
 * A modal dialog in ``layer``: focus moves into it, Tab and Shift+Tab cycle inside it, Escape or
 * close() removes it and its listeners, and focus goes back to the control that opened it (or
 * to fallbackFocus when that control is gone).
 */
function openDialog(layer, { id, title, body, footer, testid, describedBy, fallbackFocus, onClosed }) {
  const headingId = `${id}-heading`;
  const dialog = h("div", { class: "tkn-dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": headingId,
    "aria-describedby": describedBy, "data-testid": testid, tabindex: "-1" },
    h("div", { class: "tkn-dialog-head" }, h("h3", { id: headingId }, title)), body, footer);
  const overlay = h("div", { class: "tkn-overlay" }, dialog);
  const opener = document.activeElement instanceof HTMLElement && document.activeElement !== document.body ? document.activeElement : null;
  const focusables = () => [...dialog.querySelectorAll(FOCUSABLE)].filter((node) => node.getClientRects().length > 0);
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
  overlay.addEventListener("mousedown", (event) => {
    if (event.target === overlay) event.preventDefault();
  });
  // Focus that lands outside (a click on the backdrop, the notebook taking it back) returns.
  const stopKeepingFocus = on(document, "focusin", (event) => {
    if (!overlay.contains(event.target)) (focusables()[0] || dialog).focus();
  }, true);
  let open = true;
  function close() {
    if (!open) return;
    open = false;
    stopKeepingFocus();
    overlay.remove();
    // The first that takes it: an opener hidden meanwhile (the selection bar, once its action
    // cleared the selection) or a fallback disabled meanwhile does not.
    for (const node of [opener, ...[fallbackFocus].flat()]) {
      if (!node?.isConnected || node.disabled) continue;
      node.focus();
      if (document.activeElement === node) break;
    }
    onClosed?.();
  }
  layer.replaceChildren(overlay);
  return close;
}

/** Ask before revoking or deleting; the answer's problem stays in the dialog. */
function confirmAction(layer, request, kind, row) {
  const texts = {
    revoke: ["Revoke token", `Revoke “${row.name}”? It stops working now and its Valid to becomes the current time. A revoked token cannot be activated again.`, "Revoke"],
    delete: ["Delete token", `Delete “${row.name}”? Anything still using it stops working. This cannot be undone.`, "Delete"],
  }[kind];
  const id = `tkn-dialog-${layer.nextId()}`;
  const problem = h("div", { class: "tkn-banner tkn-error", role: "alert", hidden: true });
  const cancel = h("button", { type: "button", class: "tkn-button", "data-testid": "cancel" }, "Cancel");
  const confirm = h("button", { type: "button", class: "tkn-button tkn-danger", "data-testid": "confirm" }, texts[2]);
  const close = layer.open({ id, title: texts[0], testid: `confirm-${kind}`, describedBy: `${id}-text`,
    body: h("div", { class: "tkn-dialog-body" }, h("p", { id: `${id}-text` }, texts[1]), problem),
    footer: h("div", { class: "tkn-dialog-foot" }, cancel, confirm) });
  cancel.addEventListener("click", close);
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    confirm.textContent = kind === "revoke" ? "Revoking…" : "Deleting…";
    const answer = await request(kind, { token_id: row.id, version: row.version }).catch(unlessClosed);
    if (!answer) return;
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

/**
 * "K selected · Revoke selected · Delete selected · Clear" while anything is selected, with
 * "Select all N matching" once the whole page is. Python keeps the selection; this sends asks.
 */
function selectionBar(model, limits, { ask, onBulk, fallbackFocus }) {
  const count = h("strong", { "data-testid": "selection-count" });
  const revoke = h("button", { type: "button", class: "tkn-button tkn-small", "data-testid": "bulk-revoke" }, "Revoke selected");
  const remove = h("button", { type: "button", class: "tkn-button tkn-small tkn-danger", "data-testid": "bulk-delete" }, "Delete selected");
  const clear = h("button", { type: "button", class: "tkn-button tkn-small", "data-testid": "clear-selection" }, "Clear");
  const matching = h("button", { type: "button", class: "tkn-link", "data-testid": "select-matching" });
  const note = h("span", { class: "tkn-selection-note", "data-testid": "selection-note" });
  const dot = () => h("span", { class: "tkn-muted", "aria-hidden": "true" }, "·");
  const node = h("div", { class: "tkn-banner tkn-selection", role: "region", "aria-label": "Selected tokens", "data-testid": "selection-bar" },
    count, dot(), revoke, dot(), remove, dot(), clear, matching, note);
  revoke.addEventListener("click", () => onBulk("revoke"));
  remove.addEventListener("click", () => onBulk("delete"));
  clear.addEventListener("click", () => ask("clear_selection"));
  matching.addEventListener("click", () => ask("select_matching"));
  function draw() {
    const selected = model.get("selected") || [];
    const rows = model.get("_rows") || [];
    const total = model.get("total");
    const pickable = rows.filter((row) => row.can_change);
    const wholePage = pickable.length > 0 && pickable.every((row) => selected.includes(row.id));
    const hide = selected.length === 0;
    // The bar going away with the keyboard in it (Clear) hands it to the page's checkbox.
    if (hide && node.contains(document.activeElement)) fallbackFocus?.focus();
    // Hidden, it keeps its place: rows moving down as it appears would put the next row's
    // checkbox where the pointer is about to click.
    node.classList.toggle("tkn-selection-none", hide);
    node.setAttribute("aria-hidden", String(hide));
    count.textContent = `${number.format(selected.length)} selected`;
    matching.hidden = !wholePage || model.get("_all_matching") || total <= rows.length;
    const capped = total > limits.bulk_ids_max ? ` (the first ${number.format(limits.bulk_ids_max)}: one action takes at most that many)` : "";
    matching.textContent = `Select all ${number.format(total)} matching${capped}`;
    note.textContent = model.get("_selection_note");
    note.hidden = !note.textContent;
  }
  return { node, draw, dispose: onTraits(model, ["selected", "_rows", "total", "_all_matching", "_selection_note"], draw) };
}

/** One confirmation for a bulk revoke or delete, naming the count and the first few names. */
function confirmBulk(layer, request, kind, model, fallbackFocus) {
  const selected = model.get("selected") || [];
  const many = selected.length === 1 ? "1 token" : `${number.format(selected.length)} tokens`;
  const verb = kind === "revoke" ? "Revoke" : "Delete";
  const consequence = kind === "revoke"
    ? "They stop working now and cannot be activated again; tokens that are not active stay as they are."
    : "Anything still using them stops working. This cannot be undone.";
  const id = `tkn-dialog-${layer.nextId()}`;
  const problem = h("div", { class: "tkn-banner tkn-error", role: "alert", hidden: true });
  const cancel = h("button", { type: "button", class: "tkn-button", "data-testid": "cancel" }, "Cancel");
  const confirm = h("button", { type: "button", class: "tkn-button tkn-danger", "data-testid": "confirm" }, `${verb} ${many}`);
  const close = layer.open({ id, title: `${verb} ${many}`, testid: `confirm-bulk-${kind}`, describedBy: `${id}-text`, fallbackFocus,
    body: h("div", { class: "tkn-dialog-body" },
      h("p", { id: `${id}-text`, "data-testid": "bulk-question" }, `${verb} ${many}: ${model.get("_selection_summary")}?`),
      h("p", {}, consequence), problem),
    footer: h("div", { class: "tkn-dialog-foot" }, cancel, confirm) });
  cancel.addEventListener("click", close);
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    confirm.textContent = kind === "revoke" ? "Revoking…" : "Deleting…";
    const answer = await request(`bulk_${kind}`, { count: selected.length }).catch(unlessClosed);
    if (!answer) return;
    if (answer.ok) {
      close();
      return;
    }
    problem.textContent = answer.error;
    problem.hidden = false;
    confirm.disabled = false;
    confirm.textContent = `${verb} ${many}`;
  });
  cancel.focus(); // the least destructive choice
}

/** A token's values as the form holds them (dates as datetime-local text); empty for a new one. */
function draftOf(row) {
  return {
    name: row ? row.name : "",
    scopes: row ? [...row.scopes] : [],
    guid: row ? row.guid : "",
    description: row ? row.description : "",
    valid_from: row ? toLocalInput(row.valid_from) : "",
    valid_to: row ? toLocalInput(row.valid_to) : "",
    grace: 0,
  };
}

const FIELD_LABELS = { name: "Name", scopes: "Scopes", guid: "GUID", description: "Description", valid_from: "Valid from", valid_to: "Valid to" };
const sameValue = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Their version merged into the person's draft, from the values both started from: a field they
 * changed takes theirs, any other keeps the person's. Answers the values and the labels of the
 * fields where theirs replaced a change of the person's own.
 */
function mergeTheirs(base, theirs, mine) {
  const values = {};
  const replaced = [];
  for (const key of Object.keys(FIELD_LABELS)) {
    const theyChanged = !sameValue(theirs[key], base[key]);
    if (theyChanged && !sameValue(mine[key], base[key]) && !sameValue(mine[key], theirs[key])) replaced.push(FIELD_LABELS[key]);
    values[key] = theyChanged ? theirs[key] : mine[key];
  }
  return { values, replaced };
}

/**
 * The form's fields: each control labelled, with its help and a slot for its error, wired for
 * screen readers by ids under ``formId``. The slots are kept in ``errorSlots`` by field.
 */
function fieldMaker(formId, errorSlots) {
  return (label, required, control, key, help) => {
    const fieldId = `${formId}-${key}`;
    const input = control.matches("input, textarea, select") ? control : null;
    const helpNode = help ? h("div", { class: "tkn-help", id: `${fieldId}-help` }, help) : null;
    if (input) {
      input.id = fieldId;
      if (required) input.setAttribute("aria-required", "true");
      input.setAttribute("aria-describedby", [helpNode ? `${fieldId}-help` : "", `${fieldId}-error`].filter(Boolean).join(" "));
    }
    const errorNode = h("div", { class: "tkn-field-error", "data-testid": `error-${key}`, id: `${fieldId}-error` });
    errorSlots[key] = errorNode;
    return h("div", { class: "tkn-field" },
      h("label", { for: input ? fieldId : undefined }, label, required ? h("span", { class: "tkn-required", "aria-hidden": "true" }, " *") : null),
      control, helpNode, errorNode);
  };
}

/**
 * The create/edit form: its fields, a draft Python checks as it changes (Save is enabled only
 * when Python says the draft is valid), and Save. Answers {body, footer, start, dispose}.
 */
function tokenForm({ model, request, row, id, limits, onDone }) {
  const editing = row !== null;
  const locked = editing && row.status === "revoked";
  const draft = draftOf(row);
  const touched = new Set();
  const messages = {};

  const nameInput = h("input", { type: "text", maxlength: String(limits.name_max), value: draft.name, "data-testid": "form-name", required: true, autocomplete: "off" });
  const scopeChips = h("div", { class: "tkn-chips", role: "group", "aria-label": "Scopes", "data-testid": "form-scopes" },
    (model.get("_scopes") || []).map((scope) => {
      const chip = h("button", { type: "button", class: "tkn-toggle", "aria-pressed": String(draft.scopes.includes(scope.name)), title: scope.description || scope.name, "data-scope": scope.name, disabled: locked }, scope.name);
      chip.addEventListener("click", () => {
        const pressed = chip.getAttribute("aria-pressed") !== "true";
        chip.setAttribute("aria-pressed", String(pressed));
        draft.scopes = pressed ? [...draft.scopes, scope.name] : draft.scopes.filter((s) => s !== scope.name);
        changed("scopes");
      });
      return chip;
    }));
  const guidInput = h("input", { type: "text", readonly: true, value: draft.guid, class: "tkn-mono", "data-testid": "form-guid", "aria-label": "GUID", tabindex: "-1" });
  const regenerate = iconButton("refresh", "Regenerate GUID", { "data-testid": "form-regenerate", disabled: locked });
  regenerate.addEventListener("click", () => newGuid().then(() => { showGrace(); changed("guid"); }));
  // Editing only, once the GUID is replaced: whoever uses the old one gets time to move over.
  const graceSelect = h("select", { "data-testid": "form-grace" },
    limits.graces.map((g) => h("option", { value: String(g.seconds) }, g.label)));
  graceSelect.addEventListener("change", () => { draft.grace = Number(graceSelect.value); changed("grace"); });
  const description = h("textarea", { rows: "3", maxlength: String(limits.description_max), "data-testid": "form-description" });
  description.value = draft.description;
  // "min" greys out past days and times in the browser's calendar and flags an earlier value.
  // Valid from may keep the token's own date, though past; Valid to may not precede Valid from.
  let ownFrom = editing ? draft.valid_from : "";
  const earliestFrom = () => {
    const now = nowLocalInput();
    return ownFrom && ownFrom < now ? ownFrom : now;
  };
  const earliestTo = () => {
    const now = nowLocalInput();
    return validFrom.value && validFrom.value > now ? validFrom.value : now;
  };
  const validFrom = h("input", { type: "datetime-local", value: draft.valid_from, "data-testid": "form-valid-from", disabled: locked });
  const validTo = h("input", { type: "datetime-local", value: draft.valid_to, "data-testid": "form-valid-to", disabled: locked });
  validFrom.min = earliestFrom();
  validTo.min = earliestTo();
  const problemText = h("span", { "data-testid": "form-error-text" });
  const reloadTheirsButton = h("button", { type: "button", class: "tkn-button tkn-small", hidden: true, "data-testid": "reload-theirs" }, "Reload their version");
  const problem = h("div", { class: "tkn-banner tkn-error", role: "alert", hidden: true, "data-testid": "form-error" }, problemText, " ", reloadTheirsButton);
  const merged = h("div", { class: "tkn-banner", role: "status", hidden: true, "data-testid": "form-merged" });

  const labelled = fieldMaker(id, messages);
  // Someone else's change to this token is told here, never written over the person's draft.
  const notice = editing ? changedNotice(model, row.id, () => reloadValues()) : null;
  const graceField = labelled("Keep the old GUID working for", false, graceSelect, "grace", "Until then both GUIDs work; the old one verifies as superseded.");
  const body = h("div", { class: "tkn-dialog-body tkn-form" },
    notice?.node,
    merged,
    labelled("Name", true, nameInput, "name"),
    labelled("Scopes", true, scopeChips, "scopes", locked ? "A revoked token keeps its scopes." : null),
    labelled("GUID", false, h("div", { class: "tkn-guid-field" }, guidInput, copyButton(() => draft.guid, "Copy GUID"), regenerate), "guid"),
    graceField,
    labelled("Description", false, description, "description"),
    h("div", { class: "tkn-two" },
      labelled("Valid from", false, validFrom, "valid_from", "Empty: from the moment it is saved."),
      labelled("Valid to", false, validTo, "valid_to", "Empty: never expires.")),
    problem);
  const cancel = h("button", { type: "button", class: "tkn-button", "data-testid": "form-cancel", onclick: () => onDone() }, "Cancel");
  const save = h("button", { type: "button", class: "tkn-button tkn-primary", disabled: true, "data-testid": "form-save" }, "Save");
  const footer = h("div", { class: "tkn-dialog-foot" }, cancel, save);

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
    const answer = await request("validate", payload()).catch(unlessClosed);
    if (!answer || mine !== generation || !answer.ok) return;
    save.disabled = !answer.result.valid;
    showErrors(answer.result.errors);
  }, VALIDATE_DEBOUNCE_MS);

  function showGrace() {
    graceField.hidden = !editing || draft.guid === row.guid;
    graceSelect.value = String(draft.grace);
  }

  function changed(key) {
    touched.add(key);
    save.disabled = true;
    validate();
  }

  async function newGuid() {
    const answer = await request("new_guid").catch(unlessClosed);
    if (!answer?.ok) throw new ViewClosed("no GUID");
    draft.guid = answer.result.guid;
    guidInput.value = draft.guid;
  }

  nameInput.addEventListener("input", () => { draft.name = nameInput.value; changed("name"); });
  description.addEventListener("input", () => { draft.description = description.value; changed("description"); });
  for (const [input, key] of [[validFrom, "valid_from"], [validTo, "valid_to"]]) {
    input.addEventListener("input", () => {
      draft[key] = input.value;
      validTo.min = earliestTo();
      changed(key);
    });
  }
  validFrom.addEventListener("focus", () => { validFrom.min = earliestFrom(); });
  validTo.addEventListener("focus", () => { validTo.min = earliestTo(); });

  save.addEventListener("click", async () => {
    save.disabled = true;
    save.textContent = "Saving…";
    notice?.pause(true); // the event of this very save is not someone else's change
    problem.hidden = true;
    const answer = await request("save", payload()).catch(unlessClosed);
    if (!answer) return;
    save.textContent = "Save";
    if (answer.ok) {
      onDone();
      return;
    }
    touched.add("*");
    showErrors(answer.fields || {});
    notice?.pause(false);
    if (answer.status === 412) {
      // Someone changed the token since the form read it: saving again can only be refused
      // again, so Save waits until their version is loaded.
      showProblem(`${answer.error} Your values are kept; load theirs to see what changed.`, true);
      reloadTheirsButton.focus();
      return;
    }
    showProblem(answer.error, false);
    save.disabled = false;
    save.focus(); // it was disabled while saving, which took the focus away from it
  });

  function showProblem(text, stale) {
    problemText.textContent = text;
    reloadTheirsButton.hidden = !stale;
    problem.hidden = false;
  }

  /** Load the token as now stored, keeping each value typed here that their change left alone. */
  reloadTheirsButton.addEventListener("click", async () => {
    const base = draftOf(row);
    reloadTheirsButton.disabled = true;
    const answer = await request("token", { token_id: row.id }).catch(unlessClosed);
    if (!answer) return;
    reloadTheirsButton.disabled = false;
    if (!answer.ok) {
      showProblem(answer.error, true);
      return;
    }
    row = answer.result.row;
    const { values, replaced } = mergeTheirs(base, draftOf(row), { ...draft });
    Object.assign(draft, values);
    fill(row.status === "revoked");
    problem.hidden = true;
    merged.textContent = replaced.length
      ? `Loaded their version. Their ${replaced.join(", ")} replaced yours; your other changes are kept.`
      : "Loaded their version; your changes are kept.";
    merged.hidden = false;
    touched.add("*");
    changed("name");
    nameInput.focus();
  });

  /** The token's values as they are now, in place of the draft; answers whether it worked. */
  async function reloadValues() {
    const answer = await request("token", { token_id: row.id }).catch(unlessClosed);
    if (!answer) return false;
    if (!answer.ok) {
      showProblem(answer.error, false);
      return false;
    }
    row = answer.result.row;
    Object.assign(draft, draftOf(row));
    fill(row.status === "revoked");
    touched.clear();
    problem.hidden = true;
    merged.hidden = true;
    changed("name");
    return true;
  }

  /** Show ``draft`` in the inputs; the token's own Valid from (``row``'s) may lie in the past. */
  function fill(revoked) {
    nameInput.value = draft.name;
    description.value = draft.description;
    guidInput.value = draft.guid ?? "";
    validFrom.value = draft.valid_from;
    validTo.value = draft.valid_to;
    ownFrom = toLocalInput(row.valid_from);
    validFrom.min = earliestFrom();
    validTo.min = earliestTo();
    for (const chip of scopeChips.querySelectorAll("[data-scope]")) {
      chip.setAttribute("aria-pressed", String(draft.scopes.includes(chip.dataset.scope)));
      chip.disabled = revoked;
    }
    for (const control of [regenerate, validFrom, validTo]) control.disabled = revoked;
    showGrace();
  }

  showGrace();
  return {
    body,
    footer,
    start() {
      if (editing) validate();
      else newGuid().then(validate, () => {});
      nameInput.focus();
    },
    dispose() {
      validate.cancel();
      notice?.dispose();
    },
  };
}

function openForm(layer, context, row) {
  const id = `tkn-dialog-${layer.nextId()}`;
  let close = () => {};
  const form = tokenForm({ ...context, row, id, onDone: () => close() });
  close = layer.open({ id, title: row ? "Edit token" : "Create token", body: form.body, footer: form.footer,
    testid: "token-form", onClosed: form.dispose });
  form.start();
}

/** One value of a History entry: a date in the viewer's zone, scopes, a GUID's start, or text. */
function historyValue(change, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) {
    return h("span", { class: "tkn-event-value tkn-muted" }, change.empty);
  }
  if (change.kind === "date") return h("time", { class: "tkn-event-value", datetime: value, title: fullDateFormat.format(new Date(value)) }, `${dayFormat.format(new Date(value))} ${timeFormat.format(new Date(value))}`);
  if (change.kind === "list") return h("span", { class: "tkn-event-value tkn-event-list" }, value.map((item) => h("span", { class: "tkn-chip" }, item)));
  if (change.kind === "prefix") return h("code", { class: "tkn-event-value tkn-mono" }, `${value}…`);
  return h("span", { class: "tkn-event-value" }, `“${value}”`);
}

/** One event of a token's history: what happened, who did it, when, and each field's change. */
function historyEntry(item) {
  const when = new Date(item.at);
  const changes = item.changes.map((change) => h("li", { "data-field": change.field },
    h("span", { class: "tkn-event-field" }, `${change.label}: `),
    change.show_from ? [historyValue(change, change.from), h("span", { class: "tkn-arrow", "aria-label": "changed to" }, " → ")] : [],
    historyValue(change, change.to)));
  return h("li", { class: `tkn-event tkn-event-${item.action.replace("token.", "")}`, "data-testid": "history-entry", "data-action": item.action },
    h("div", { class: "tkn-event-head" },
      h("strong", { "data-testid": "history-summary" }, item.summary),
      h("span", { class: "tkn-muted" }, " by "), h("span", { "data-testid": "history-actor" }, item.actor),
      h("time", { class: "tkn-event-time", datetime: item.at, title: fullDateFormat.format(when) }, `${dayFormat.format(when)} ${timeFormat.format(when)}`)),
    changes.length ? h("ul", { class: "tkn-event-changes" }, changes) : null);
}

/**
 * A token's history, newest first (older events load as the end of the list scrolls into view),
 * and on its second tab the token's usage.
 */
function historyDialog(layer, request, row, model) {
  const id = `tkn-dialog-${layer.nextId()}`;
  const list = h("ol", { class: "tkn-history", "data-testid": "history-list" });
  const status = h("div", { class: "tkn-history-status tkn-muted", role: "status", "data-testid": "history-status" });
  const scroller = h("div", { class: "tkn-dialog-body tkn-history-scroll", tabindex: "0", "aria-label": "Events, newest first" }, list, status);
  const closeButton = h("button", { type: "button", class: "tkn-button", "data-testid": "history-close" }, "Close");
  let next = null;
  let loading = false;
  let done = false;
  const nearEnd = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  async function more() {
    if (loading || done) return;
    loading = true;
    status.textContent = "Loading…";
    const answer = await request("history", { token_id: row.id, before: next }).catch(unlessClosed);
    loading = false;
    if (!answer) return;
    if (!answer.ok) {
      done = true;
      status.textContent = answer.error;
      status.classList.add("tkn-field-error");
      return;
    }
    list.append(...answer.result.items.map(historyEntry));
    next = answer.result.next;
    done = next === null;
    status.textContent = done ? (list.children.length ? "" : "No changes recorded.") : "Scroll for older changes.";
    if (!done && nearEnd()) more(); // the box is not full yet: no scroll would ask for more
  }
  const offScroll = on(scroller, "scroll", () => { if (nearEnd()) more(); });
  const usage = usageSection(model, request, row);
  const tabs = historyTabs(id, [["changes", "Changes", scroller], ["usage", "Usage", usage.node, usage.show]]);
  const close = layer.open({ id, title: `History of “${row.name}”`, body: h("div", { class: "tkn-history-panels" }, tabs, scroller, usage.node),
    testid: "history-dialog", footer: h("div", { class: "tkn-dialog-foot" }, closeButton), onClosed: () => { offScroll(); usage.dispose(); } });
  closeButton.addEventListener("click", close);
  closeButton.focus();
  more();
}

/** "just now", "4 min ago", "3 days ago": how long ago a token was last used. */
function usedAgo(iso) {
  const minutes = (Date.now() - Date.parse(iso)) / 60_000;
  if (!(minutes >= 1)) return "just now"; // also when the clocks disagree a little
  if (minutes < 60) return `${Math.floor(minutes)} min ago`;
  const hours = minutes / 60;
  if (hours < 24) return `${Math.floor(hours)} h ago`;
  const days = Math.floor(hours / 24);
  return days === 1 ? "1 day ago" : `${days} days ago`;
}

/** "just now", "3 minutes ago": how long ago an instant was, for a notice that stays open. */
function ago(iso) {
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (!(seconds >= 45)) return "just now"; // also when the clocks disagree a little
  if (seconds < 90) return "a minute ago";
  if (seconds < 3600) return `${Math.round(seconds / 60)} minutes ago`;
  return `at ${timeFormat.format(new Date(iso))}`;
}

/**
 * In an open edit dialog: says who changed its token meanwhile (Python tells of each change to
 * a token on the page) and offers their values; the draft is replaced only when asked.
 * reload() answers whether the values were loaded. pause(true) ignores changes meanwhile.
 */
function changedNotice(model, tokenId, reload) {
  const text = h("span", { class: "tkn-changed-text", "data-testid": "changed-text" });
  const button = h("button", { type: "button", class: "tkn-button tkn-small", "data-testid": "reload-values" }, "Reload values");
  const node = h("div", { class: "tkn-banner tkn-changed", role: "alert", hidden: true, "data-testid": "changed-notice" }, text, button);
  let latest = null;
  let paused = false;
  function draw() {
    if (!latest) return;
    text.textContent = `${latest.summary} by ${latest.actor} ${ago(latest.at)}. `;
    button.hidden = latest.action === "token.deleted"; // nothing is left to load
    node.hidden = false;
  }
  const off = on(model, "msg:custom", (msg) => {
    if (paused || msg?.kind !== "token_changed" || msg.token_id !== tokenId) return;
    latest = msg;
    draw();
  });
  const timer = setInterval(draw, 30_000);
  button.addEventListener("click", async () => {
    button.disabled = true;
    const loaded = await reload();
    button.disabled = false;
    if (loaded) {
      latest = null;
      node.hidden = true;
    }
  });
  return {
    node,
    pause(value) { paused = value; },
    dispose() {
      off();
      clearInterval(timer);
    },
  };
}

const LIVE_WORDS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", stopped: "Not live" };
const LIVE_TITLES = {
  live: "Changes made by others appear here as they happen",
  reconnecting: "The connection to the server's changes dropped; reconnecting",
  stopped: "Changes made by others appear only after Refresh",
};

/** The header's mark saying whether the grid follows changes as they happen. */
function liveMark(model) {
  const node = h("span", { class: "tkn-live", role: "status", "data-testid": "live" });
  function draw() {
    const state = model.get("_live") || "";
    node.hidden = !state;
    node.textContent = LIVE_WORDS[state] || "";
    node.title = LIVE_TITLES[state] || "";
    node.dataset.state = state;
  }
  return { node, draw, dispose: onTraits(model, ["_live"], draw) };
}

function render({ model, el }) {
  const limits = model.get("_limits");
  const calls = rpc(model);
  const request = calls.request;
  const ask = (action) => request(action).catch(unlessClosed);
  let layer = null;
  const context = { model, request, limits };
  const top = header(model, { onRefresh: () => ask("refresh"), onCreate: () => openForm(layer, context, null) });
  layer = dialogLayer(top.createButton);
  const table = grid(model, limits, {
    onEdit: (row) => openForm(layer, context, row),
    onConfirm: (kind, row) => confirmAction(layer, request, kind, row),
    onHistory: (row) => historyDialog(layer, request, row, model),
    onSelect: (ids, selected) => request("select", { token_ids: ids, selected }).catch(unlessClosed),
  }, top.createButton);
  const bar = selectionBar(model, limits, {
    ask,
    onBulk: (kind) => confirmBulk(layer, request, kind, model, table.pageBox),
    fallbackFocus: table.pageBox,
  });
  const parts = [top, banners(model), expiryNotice(model), filterBar(model, limits), bar, table, pager(model, limits)];
  const root = keepKeys(h("div", { class: "tkn" }, parts.map((part) => part.node)));
  const mark = liveMark(model);
  top.node.querySelector(".tkn-heading").append(mark.node);
  parts.push(mark);
  const offBusy = onTraits(model, ["busy"], () => root.classList.toggle("tkn-is-busy", Boolean(model.get("busy"))));
  el.append(root);
  for (const part of parts) part.draw();
  root.classList.toggle("tkn-is-busy", Boolean(model.get("busy")));
  ask("hello");

  return () => {
    offBusy();
    for (const part of parts) part.dispose();
    layer.dispose();
    calls.dispose();
  };
}

export default { render };
