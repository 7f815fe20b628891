// The steward's phone page: check or redeem a code (typed, or scanned where the browser has
// BarcodeDetector), see the verdict in big letters and the code's history.
"use strict";

(() => {
  const { api, el, show, time, nonce, login } = Venue;
  let me = null;

  const REASONS = {
    ok: "Valid", already_used: "ALREADY USED", invalid: "NOT A VALID CODE",
    unknown_series: "UNKNOWN TICKET TYPE", not_yet_valid: "NOT VALID YET", expired: "EXPIRED",
    revoked: "CANCELLED", blocked: "BLOCKED", wrong_direction: "WRONG DIRECTION",
    capacity: "SOLD OUT / FULL", error: "ERROR — TRY AGAIN",
  };

  function verdict(kind, big, detail) {
    const box = document.getElementById("verdict");
    box.className = "verdict " + kind;
    box.dataset.result = kind;
    document.getElementById("verdict-big").textContent = big;
    document.getElementById("verdict-detail").textContent = detail;
    show("verdict", true);
  }

  function describe(a, mode) {
    const parts = [];
    if (a.ticket) {
      parts.push(`${a.ticket.name} (${a.ticket.kind} ${a.ticket.ref})`);
      parts.push(`${a.ticket.entries_left} entr${a.ticket.entries_left === 1 ? "y" : "ies"} left`);
    }
    if (a.reason === "already_used" && a.first_used_at) {
      parts.push(`first used ${time(a.first_used_at)}` + (a.first_gate ? ` at ${a.first_gate}` : ""));
    }
    if (a.check_holder) {  // a phone-bound ticket: the holder proves it with the phone's last digits
      parts.unshift(`ASK THE HOLDER'S PHONE: last digits of ${a.check_holder.masked_phone}`);
    }
    if (a.detail) parts.push(a.detail);
    if (mode === "check" && a.result === "admit") parts.push("checked only: not redeemed");
    return parts.join(" · ");
  }

  async function history(ref) {
    try {
      const h = await api("GET", `/api/v1/codes/${encodeURIComponent(ref)}`);
      document.getElementById("history-ref").textContent = `${ref} · ${h.status} · used ${h.entries_used}`;
      const rows = h.history.map((e) => el("li", {}, `${time(e.at)} ${e.status}` + (e.detail ? ` — ${e.detail}` : "")));
      for (const a of h.attempts.slice(-10)) {
        rows.push(el("li", {}, `${time(a.scanned_at)} ${a.mode} ${a.result} (${a.reason}) at ${a.gate}`));
      }
      document.getElementById("history").replaceChildren(...rows);
      show("history-panel", true);
    } catch (e) {
      show("history-panel", false);
    }
  }

  async function scan(mode) {
    const input = document.getElementById("code");
    const code = input.value.trim();
    if (!code) { input.focus(); return; }
    const buttons = [document.getElementById("check"), document.getElementById("redeem")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const a = await api("POST", "/api/v1/redemptions",
                          { code, gate: me.device, direction: "in", nonce: nonce(), mode });
      if (a.result === "admit") {
        verdict(mode === "check" ? "check" : "admit",
                mode === "check" ? "VALID" : "ADMIT", describe(a, mode));
      } else {
        verdict("reject", REASONS[a.reason] || a.reason.toUpperCase(), describe(a, mode));
      }
      if (a.ticket) history(a.ticket.ref); else show("history-panel", false);
    } catch (e) {
      verdict("reject", e.status === 401 ? "LOGGED OUT" : "NO ANSWER",
              e.status === 422 ? "That is not a code or serial." : e.message);
      if (e.status === 401) { sessionStorage.clear(); location.reload(); }
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  async function camera() {  // only offered where the browser can decode barcodes itself
    const video = document.getElementById("camera");
    if (!video.hidden) { stopCamera(); return; }
    try {
      const detector = new BarcodeDetector({ formats: ["qr_code", "code_128", "ean_13"] });
      const media = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = media;
      video.hidden = false;
      await video.play();
      const tick = async () => {
        if (video.hidden) return;
        const found = await detector.detect(video).catch(() => []);
        if (found.length) {
          document.getElementById("code").value = found[0].rawValue;
          stopCamera();
          scan("check");
          return;
        }
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    } catch (e) {
      verdict("reject", "NO CAMERA", String(e.message || e));
      stopCamera();
    }
  }

  function stopCamera() {
    const video = document.getElementById("camera");
    if (video.srcObject) video.srcObject.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
    video.hidden = true;
  }

  document.addEventListener("DOMContentLoaded", () => login(["validator", "admin"], (who) => {
    me = who;
    document.getElementById("check").addEventListener("click", () => scan("check"));
    document.getElementById("code-form").addEventListener("submit", (ev) => { ev.preventDefault(); scan("redeem"); });
    const canScan = "BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
    if (canScan) {
      show("scan", true);
      document.getElementById("scan").addEventListener("click", camera);
    }
    document.getElementById("code").focus();
  }));
})();
