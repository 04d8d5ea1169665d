// Usage: the grid's "Uses (14 d)" cell (a sparkline, the total, a red mark for refusals) and the
// History dialog's Usage section (a bar chart of a range). Appended to widget.js as one module
// (widget.py joins them) and drawn with its h(); Python sends the counts, labels in the viewer's
// time zone included, so this part only draws. Colours are the theme's, through widget.css.

const SVG_NS = "http://www.w3.org/2000/svg";
const USAGE_RANGES = [["24h", "24 h"], ["14d", "14 d"], ["90d", "90 d"]];
const REFUSAL_WORDS = { revoked: "revoked", expired: "expired", not_yet_active: "not yet active", missing_scopes: "missing scopes", superseded_after_grace: "old GUID after its grace" };

/** An SVG element: svg("rect", {x: 1}, child). */
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child);
  }
  return el;
}

const plural = (n, one, many) => `${number.format(n)} ${n === 1 ? one : many}`;

/** "3 refused (2 revoked, 1 expired)": the refusals by why. */
function refusalWords(counts) {
  const why = Object.entries(counts.refusals || {}).filter(([, n]) => n > 0).map(([reason, n]) => `${number.format(n)} ${REFUSAL_WORDS[reason] || reason}`);
  return `${number.format(counts.refused)} refused${why.length ? ` (${why.join(", ")})` : ""}`;
}

/** The sparkline of uses per day: a line over a soft area, scaled to the busiest day. */
function sparkline(daily, days) {
  if (!daily.length) daily = days.map(() => [0, 0]); // unused: a flat line
  const width = 64;
  const height = 18;
  const top = Math.max(1, ...daily.map(([uses]) => uses));
  const step = daily.length > 1 ? width / (daily.length - 1) : width;
  const points = daily.map(([uses], i) => `${(i * step).toFixed(1)},${(height - 1 - (uses / top) * (height - 2)).toFixed(1)}`);
  const line = points.join(" ");
  return svg("svg", { class: "tkn-spark", viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true", "data-testid": "sparkline", preserveAspectRatio: "none" },
    svg("polygon", { class: "tkn-spark-area", points: `0,${height} ${line} ${width},${height}` }),
    svg("polyline", { class: "tkn-spark-line", points: line }));
}

/** Fill the grid's usage cell of one token from its entry of _usage (or say there is none). */
function drawUsageCell(cell, entry, days) {
  if (!entry) {
    cell.title = "No usage counts";
    cell.replaceChildren(h("span", { class: "tkn-muted" }, "–"));
    return;
  }
  const first = days.length ? dayFormat.format(new Date(`${days[0]}T00:00:00Z`)) : "";
  const lines = [`${plural(entry.uses, "use", "uses")} in the last ${days.length || 14} days${first ? ` (UTC days from ${first})` : ""}`];
  if (entry.refused) lines.push(refusalWords(entry));
  cell.title = lines.join("\n");
  const parts = [sparkline(entry.daily || [], days), h("span", { class: "tkn-uses-total", "data-testid": "uses-total" }, number.format(entry.uses))];
  if (entry.refused) parts.push(h("span", { class: "tkn-refused-mark", "data-testid": "refused-mark", role: "img", "aria-label": refusalWords(entry) }));
  cell.replaceChildren(...parts);
}

/** The bars of a chart answer, uses below and refusals stacked on them, with a few labels. */
function usageChart(chart) {
  const width = 640;
  const height = 170;
  const left = 34;
  const bottom = 22;
  const plotH = height - bottom - 8;
  const bars = chart.bars;
  const top = Math.max(1, ...bars.map((bar) => bar.uses + bar.refused));
  const slot = (width - left) / Math.max(1, bars.length);
  const barW = Math.max(1, slot * 0.78);
  const y = (n) => 8 + plotH - (n / top) * plotH;
  const every = Math.max(1, Math.ceil(bars.length / 7));
  const parts = [
    svg("line", { class: "tkn-chart-axis", x1: left, x2: width, y1: y(0), y2: y(0) }),
    svg("line", { class: "tkn-chart-grid", x1: left, x2: width, y1: y(top), y2: y(top) }),
    svg("text", { class: "tkn-chart-text", x: left - 4, y: y(top) + 4, "text-anchor": "end" }, number.format(top)),
    svg("text", { class: "tkn-chart-text", x: left - 4, y: y(0), "text-anchor": "end" }, "0"),
  ];
  bars.forEach((bar, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    const title = `${bar.title}: ${plural(bar.uses, "use", "uses")}, ${number.format(bar.refused)} refused`;
    parts.push(svg("g", { "data-testid": "usage-bar", "data-uses": bar.uses, "data-refused": bar.refused },
      svg("title", {}, title),
      // A transparent column over the whole height, so a bar of zero still shows its tooltip.
      svg("rect", { class: "tkn-chart-hit", x: left + i * slot, y: 8, width: slot, height: plotH }),
      bar.uses ? svg("rect", { class: "tkn-chart-uses", x, width: barW, y: y(bar.uses), height: y(0) - y(bar.uses) }) : null,
      bar.refused ? svg("rect", { class: "tkn-chart-refused", x, width: barW, y: y(bar.uses + bar.refused), height: y(bar.uses) - y(bar.uses + bar.refused) }) : null));
    // A label every few bars, counted from the last (the day or hour under way).
    if ((bars.length - 1 - i) % every === 0) {
      const last = i === bars.length - 1; // ends at the right edge rather than past it
      parts.push(svg("text", { class: "tkn-chart-text", x: left + (last ? i + 1 : i + 0.5) * slot, y: height - 6, "text-anchor": last ? "end" : "middle" }, bar.label));
    }
  });
  return svg("svg", { class: "tkn-chart", viewBox: `0 0 ${width} ${height}`, role: "img", "data-testid": "usage-chart",
    "aria-label": `${plural(chart.totals.uses, "use", "uses")} and ${number.format(chart.totals.refused)} refused, ${bars.length} ${chart.bucket === "hour" ? "hours" : "days"}` }, parts);
}

/**
 * The History dialog's Usage section: a range choice, the chart and its totals. Loads when
 * first shown; asks again when its token's counts in the grid change (a flush landed).
 */
function usageSection(model, request, row) {
  const status = h("div", { class: "tkn-history-status tkn-muted", role: "status", "data-testid": "usage-status" });
  const totals = h("p", { class: "tkn-usage-totals", "data-testid": "usage-totals" });
  const legend = h("p", { class: "tkn-usage-legend tkn-muted" },
    h("span", { class: "tkn-key tkn-key-uses" }), "Uses ", h("span", { class: "tkn-key tkn-key-refused" }), "Refused");
  const holder = h("div", { class: "tkn-chart-holder" });
  let range = "14d";
  let shown = false;
  let asked = 0;
  const buttons = USAGE_RANGES.map(([key, label]) => h("button", { type: "button", class: "tkn-button tkn-small tkn-range", "data-testid": `usage-range-${key}`,
    "aria-pressed": String(key === range), onclick: () => choose(key) }, label));
  const node = h("div", { class: "tkn-dialog-body tkn-usage", "data-testid": "usage-section" },
    h("div", { class: "tkn-range-choice", role: "group", "aria-label": "Range" }, buttons), totals, holder, legend, status);

  async function load() {
    const mine = ++asked;
    status.textContent = holder.childElementCount ? "" : "Loading…";
    const answer = await request("usage", { token_id: row.id, range, tz: timeZone }).catch(unlessClosed);
    if (!answer || mine !== asked) return; // closed, or a newer range asked for
    status.classList.toggle("tkn-field-error", !answer.ok);
    if (!answer.ok) {
      status.textContent = answer.error;
      return;
    }
    const chart = answer.result;
    status.textContent = `Times in ${chart.time_zone}.`;
    totals.replaceChildren(h("strong", { "data-testid": "usage-uses" }, plural(chart.totals.uses, "use", "uses")), " · ",
      h("span", { class: chart.totals.refused ? "tkn-refused-text" : "", "data-testid": "usage-refused" }, refusalWords(chart.totals)));
    holder.replaceChildren(usageChart(chart));
  }
  function choose(key) {
    range = key;
    buttons.forEach((button, i) => button.setAttribute("aria-pressed", String(USAGE_RANGES[i][0] === key)));
    load();
  }
  const counts = () => JSON.stringify(model.get("_usage")?.tokens?.[row.id] ?? null);
  let seen = counts();
  const off = onTraits(model, ["_usage"], () => {
    const now = counts();
    if (now === seen) return;
    seen = now;
    if (shown) load();
  });
  return {
    node,
    show() {
      if (!shown) load();
      shown = true;
    },
    dispose: off,
  };
}

/** Two tabs over the History dialog's panels: its changes, and its usage. */
function historyTabs(id, panels) {
  const tabs = panels.map(([key, label, panel], i) => {
    panel.id = `${id}-${key}`;
    panel.setAttribute("role", "tabpanel");
    panel.hidden = i !== 0;
    return h("button", { type: "button", role: "tab", class: "tkn-tab", id: `${id}-${key}-tab`, "aria-controls": panel.id,
      "aria-selected": String(i === 0), tabindex: i === 0 ? "0" : "-1", "data-testid": `tab-${key}` }, label);
  });
  panels.forEach(([, , panel], i) => panel.setAttribute("aria-labelledby", tabs[i].id));
  function select(index) {
    tabs.forEach((tab, i) => {
      tab.setAttribute("aria-selected", String(i === index));
      tab.tabIndex = i === index ? 0 : -1;
      panels[i][2].hidden = i !== index;
    });
    panels[index][3]?.();
    tabs[index].focus();
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(i));
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      event.preventDefault();
      select((i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length);
    });
  });
  return h("div", { class: "tkn-tabs", role: "tablist", "aria-label": "History" }, tabs);
}
