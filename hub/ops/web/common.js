// Shared by the dashboard and the steward page: the token (this tab only), API calls, login,
// and a server-sent-events reader over fetch (EventSource cannot send an Authorization header).
"use strict";

const Venue = (() => {
  const KEY = "venue.token";

  function token() { return sessionStorage.getItem(KEY) || ""; }
  function setToken(t) { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY); }

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : JSON.stringify(detail));
      this.status = status;
      this.detail = detail;
    }
  }

  async function api(method, path, body) {
    const headers = { "Authorization": "Bearer " + token(), "Accept": "application/json" };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) throw new ApiError(r.status, data && data.detail !== undefined ? data.detail : r.statusText);
    return data;
  }

  // Builds an element: el("td", {class: "x"}, "text", child...). Text only: never HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function show(id, visible) { document.getElementById(id).hidden = !visible; }

  function time(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function nonce() {  // crypto.randomUUID needs a secure context; a phone on the LAN has none
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return "web-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  // Log in with the typed token: it must be known and of one of `roles`.
  async function login(roles, onReady) {
    const form = document.getElementById("login-form");
    const input = document.getElementById("login-token");
    const msg = document.getElementById("login-error");
    async function attempt(t) {
      setToken(t);
      try {
        const me = await api("GET", "/api/v1/ops/whoami");
        if (!roles.includes(me.role)) {
          setToken("");
          msg.textContent = "Refused: this page is for " + roles.join(" or ") + " tokens (this one is " + me.role + ").";
          return;
        }
        msg.textContent = "";
        show("login", false);
        show("app", true);
        document.getElementById("who").textContent = me.role + " · " + me.device;
        onReady(me);
      } catch (e) {
        setToken("");
        show("app", false);
        show("login", true);
        msg.textContent = e.status === 401 ? "Refused: unknown or revoked token." : "Cannot log in: " + e.message;
      }
    }
    form.addEventListener("submit", (ev) => { ev.preventDefault(); attempt(input.value.trim()); input.value = ""; });
    document.getElementById("logout").addEventListener("click", () => { setToken(""); location.reload(); });
    if (token()) attempt(token()); else show("login", true);
  }

  // Reads a text/event-stream with the bearer token; reconnects with Last-Event-ID.
  async function stream(path, onMessage, onState) {
    let lastId = "";
    for (;;) {
      try {
        const headers = { "Authorization": "Bearer " + token(), "Accept": "text/event-stream" };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const r = await fetch(path, { headers, cache: "no-store" });
        if (!r.ok) {
          let detail = r.statusText;
          try { detail = (await r.json()).detail; } catch (e) { /* keep statusText */ }
          onState(r.status === 503 ? "unavailable" : "refused", detail);
          return;
        }
        onState("live", "");
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = "message", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) lastId = line.slice(4);
              else if (line.startsWith("event: ")) type = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (data) onMessage(type, JSON.parse(data));
          }
        }
        onState("reconnecting", "");
      } catch (e) {
        onState("reconnecting", String(e));
      }
      await new Promise((res) => setTimeout(res, 2000));
    }
  }

  return { api, el, show, time, nonce, login, stream, token, ApiError };
})();
