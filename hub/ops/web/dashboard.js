// The operators' dashboard: device rows, alerts, charts and the register queue from
// /api/v1/ops/overview (every few seconds), live events from /api/v1/events/stream.
"use strict";

(() => {
  const { api, el, time, login, stream } = Venue;
  const SVG = "http://www.w3.org/2000/svg";
  const MAX_EVENTS = 60;
  let refreshTimer = null;
  let streaming = false;

  function svg(tag, attrs, text) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function counters(d) {
    const c = d.counters || {};
    const parts = [];
    if ("admits" in c) parts.push(`admit ${c.admits} / reject ${c.rejects}`);
    if ("occupancy" in c) parts.push(`inside ${c.occupancy}`);
    if (c.offline_decisions) parts.push(`offline ${c.offline_decisions}`);
    if ("presence" in c) parts.push(`present ${c.presence}`);
    return parts.join(" · ") || "—";
  }

  async function command(device, name, button) {
    const out = document.getElementById("command-result");
    button.disabled = true;
    out.textContent = `${name} → ${device}…`;
    try {
      const r = await api("POST", `/api/v1/devices/${encodeURIComponent(device)}/commands`,
                          { name, args: {}, timeout_s: 5 });
      out.textContent = `${name} → ${device}: ${r.result}` + (r.message ? ` (${r.message})` : "");
      out.className = r.result === "ok" ? "" : "error";
    } catch (e) {
      out.textContent = `${name} → ${device}: ${e.message}`;
      out.className = "error";
    } finally {
      button.disabled = false;
      refresh();
    }
  }

  function renderDevices(devices) {
    const body = document.getElementById("devices");
    body.replaceChildren(...devices.map((d) => el("tr", { "data-device": d.key },
      el("td", {}, d.role),
      el("td", {}, d.device, el("span", { class: "muted" }, " " + d.site)),
      el("td", {}, el("span", { class: "state state-" + (["online", "offline"].includes(d.state) ? d.state : "unknown") }, d.state)),
      el("td", {}, time(d.last_seen)),
      el("td", {}, d.version || "—"),
      el("td", {}, d.outbox === null || d.outbox === undefined ? "—" : d.outbox),
      el("td", {}, counters(d)),
      el("td", {}, d.role === "gate"
        ? el("button", { type: "button", "data-open": d.device, disabled: d.state === "offline",
                         title: d.state === "offline" ? "offline: a command would not reach it" : null,
                         onclick: (ev) => command(d.device, "open", ev.currentTarget) }, "Open")
        : ""),
    )));
    const online = devices.filter((d) => d.state === "online").length;
    document.getElementById("device-count").textContent = `${online} of ${devices.length} online`;
  }

  function renderAlerts(alerts) {
    const list = document.getElementById("alerts");
    list.replaceChildren(...(alerts.length ? alerts.map((a) => el("li", { "data-kind": a.kind },
      `${time(a.at)} ${a.message}`)) : [el("li", { class: "none" }, "Nothing needs attention.")]));
    document.getElementById("alert-count").textContent = alerts.length ? `(${alerts.length})` : "";
  }

  function axes(node, max, buckets, startIso, bucketS) {
    node.append(svg("line", { x1: 40, y1: 150, x2: 590, y2: 150, stroke: "#000" }));
    node.append(svg("line", { x1: 40, y1: 10, x2: 40, y2: 150, stroke: "#000" }));
    node.append(svg("text", { x: 4, y: 16 }, String(max)));
    node.append(svg("text", { x: 4, y: 150 }, "0"));
    const start = new Date(startIso);
    for (const frac of [0, 0.5, 1]) {
      const t = new Date(start.getTime() + frac * (buckets - 1) * bucketS * 1000);
      node.append(svg("text", { x: 40 + frac * 520, y: 168 }, time(t.toISOString()).slice(0, 5)));
    }
  }

  function renderThroughput(tp) {
    const node = document.getElementById("throughput");
    node.replaceChildren();
    const n = tp.buckets;
    const admit = new Array(n).fill(0), reject = new Array(n).fill(0);
    for (const g of Object.values(tp.gates)) {
      g.admit.forEach((v, i) => { admit[i] += v; });
      g.reject.forEach((v, i) => { reject[i] += v; });
    }
    const max = Math.max(1, ...admit.map((v, i) => v + reject[i]));
    axes(node, max, n, tp.start, tp.bucket_s);
    const w = 550 / n;
    for (let i = 0; i < n; i++) {
      const ha = (admit[i] / max) * 140, hr = (reject[i] / max) * 140;
      if (ha) node.append(svg("rect", { x: 41 + i * w, y: 150 - ha, width: Math.max(1, w - 1), height: ha, fill: "#0a6b1f" }));
      if (hr) node.append(svg("rect", { x: 41 + i * w, y: 150 - ha - hr, width: Math.max(1, w - 1), height: hr, fill: "#b00020" }));
    }
  }

  function renderOccupancy(occ) {
    const node = document.getElementById("occupancy");
    node.replaceChildren();
    const s = occ.inside;
    const max = Math.max(1, ...s);
    axes(node, max, s.length, occ.start, occ.bucket_s);
    const step = s.length > 1 ? 550 / (s.length - 1) : 0;
    const pts = s.map((v, i) => `${41 + i * step},${150 - (Math.max(0, v) / max) * 140}`).join(" ");
    node.append(svg("polyline", { points: pts, fill: "none", stroke: "#003a8c", "stroke-width": 3 }));
    document.getElementById("occupancy-now").textContent = `— ${occ.now} inside now`;
  }

  function renderQueue(queue) {
    document.getElementById("queue").replaceChildren(...queue.map((c) => el("tr", {},
      el("td", {}, c.number), el("td", {}, c.business), el("td", {}, c.items),
      el("td", {}, `${c.total} ${c.currency}`), el("td", {}, time(c.created_at)))));
    document.getElementById("queue-count").textContent = `(${queue.length})`;
  }

  function renderCommands(cmds) {
    document.getElementById("commands").replaceChildren(...cmds.map((c) => el("tr", {},
      el("td", {}, time(c.sent_at)), el("td", {}, c.device), el("td", {}, c.name),
      el("td", {}, `${c.by.role}:${c.by.device}`),
      el("td", { class: c.result === "ok" ? "" : "error" }, c.result + (c.reason ? ` (${c.reason})` : "")))));
  }

  async function refresh() {
    try {
      const o = await api("GET", "/api/v1/ops/overview");
      renderDevices(o.devices);
      renderAlerts(o.alerts);
      renderThroughput(o.throughput);
      renderOccupancy(o.occupancy);
      renderQueue(o.register);
      const cmds = await api("GET", "/api/v1/commands?limit=10");
      renderCommands(cmds.commands);
      document.getElementById("updated").textContent = time(o.at);
      if (o.live && !streaming) {  // only ask for the stream when the hub has a broker link
        streaming = true;
        stream("/api/v1/events/stream", onEvent, onState);
      } else if (!o.live && !streaming) {
        onState("unavailable", "the hub has no broker connection (MQTT off or broker away)");
      }
    } catch (e) {
      document.getElementById("updated").textContent = "failed: " + e.message;
      if (e.status === 401) { sessionStorage.clear(); location.reload(); }
    }
  }

  function soon() {  // a status change: refresh the rows now, not at the next tick
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 300);
  }

  function onEvent(type, item) {
    if (type === "status") soon();
    const list = document.getElementById("events");
    const text = type === "status"
      ? `${time(item.ts)} ${item.device} is ${item.state}`
      : `${time(item.ts)} ${item.device} ${item.type} ${JSON.stringify(item.data)}`;
    list.prepend(el("li", { "data-type": type === "status" ? "status" : item.type }, text));
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  }

  function onState(state, detail) {
    if (state === "unavailable" || state === "refused") streaming = false;
    const node = document.getElementById("live");
    node.className = "live-" + state;
    node.textContent = { live: "● live", reconnecting: "○ reconnecting…",
                         unavailable: "live events unavailable: " + detail,
                         refused: "live events refused: " + detail }[state];
  }

  document.addEventListener("DOMContentLoaded", () => login(["operator", "admin"], () => {
    refresh();
    setInterval(refresh, 5000);
  }));
})();
