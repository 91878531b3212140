// The station screen: the scan box keeps focus, each scan carries a fresh id, each result beeps.
(function () {
  "use strict";
  const box = () => document.getElementById("code");
  const keepFocus = () => { const b = box(); if (b && document.activeElement !== b) b.focus(); };

  function scanId() {
    // crypto.randomUUID needs a secure context; line PCs often browse plain http on the LAN.
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  let audio;
  function beep(outcome) {
    const tones = { accepted: [[880, 0.12]], warning: [[660, 0.12], [660, 0.12]],
                    refused: [[220, 0.35], [180, 0.35]] }[outcome];
    if (!tones) return;
    try {
      audio = audio || new AudioContext();
      let t = audio.currentTime;
      for (const [freq, dur] of tones) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = outcome === "refused" ? "square" : "sine";
        osc.frequency.value = freq;
        gain.gain.value = 0.3;
        osc.connect(gain).connect(audio.destination);
        osc.start(t); osc.stop(t + dur); t += dur + 0.06;
      }
    } catch (e) { /* no sound device: the colour still tells */ }
  }

  document.addEventListener("htmx:configRequest", (e) => {
    if (e.detail.elt.id !== "scan") return;
    if (!String(e.detail.parameters.get ? e.detail.parameters.get("code") : e.detail.parameters.code).trim()) {
      e.preventDefault();  // an empty Enter is not a scan
      return;
    }
    const id = scanId();
    if (e.detail.parameters.set) e.detail.parameters.set("scan_id", id); else e.detail.parameters.scan_id = id;
  });
  document.addEventListener("htmx:beforeRequest", (e) => {
    if (e.detail.elt.id === "scan") box().value = "";
  });
  document.addEventListener("htmx:afterSwap", (e) => {
    const r = document.getElementById("result");
    if (r && e.detail.target.id === "result") beep(r.dataset.outcome);
    keepFocus();
  });
  document.addEventListener("htmx:sendError", () => {
    const r = document.getElementById("result");
    if (r) { r.className = "result refused"; r.querySelector(".headline").textContent = "✖ No connection to the station"; beep("refused"); }
  });
  document.addEventListener("click", keepFocus);
  document.addEventListener("focusout", () => setTimeout(keepFocus, 0));
  document.addEventListener("DOMContentLoaded", keepFocus);
})();
