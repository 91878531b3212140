// The station screen: the scan box keeps focus, each scan carries a fresh id, each result beeps.
(function () {
  "use strict";
  const box = () => document.getElementById("code");
  // A text field the person chose to type in (a tension reading on the readiness screen)
  // keeps its focus; anything else (a click on the page, a swap) hands it back to the box.
  const typingIn = (el) => el && el !== box() && el.matches &&
    el.matches("input:not([type=hidden]), textarea, select");
  const keepFocus = () => {
    const b = box();
    if (b && document.activeElement !== b && !typingIn(document.activeElement)) b.focus();
  };

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

  // A scan is taken off the box the moment its Enter arrives. htmx would read the form only
  // when a queued request is sent, by which time the scanner may have typed the next label
  // into the box: two labels would go as one, and the scans behind it as empty ones.
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (form.id !== "scan") return;
    e.preventDefault();
    const b = box(), code = b.value;
    b.value = "";
    if (!code.trim()) return;  // an empty Enter is not a scan
    htmx.ajax("POST", form.action, { source: form, values: { code: code, scan_id: scanId() } });
  });
  // Browsers may break a line after any hyphen, so a serial such as WO-1-00001 could end one
  // line and begin the next: each serial-like word of the result goes into a span.word, which
  // the stylesheet keeps on one line unless it is wider than a line by itself.
  const SERIAL_LIKE = /[A-Za-z0-9_]+(?:[-/.][A-Za-z0-9_]+)+/g;
  function keepWords(result) {
    if (!result || result.dataset.words) return;
    result.dataset.words = "kept";
    const walker = document.createTreeWalker(result, NodeFilter.SHOW_TEXT), texts = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) texts.push(node);
    for (const node of texts) {
      const frag = document.createDocumentFragment();
      let last = 0;
      for (const m of node.data.matchAll(SERIAL_LIKE)) {
        const word = document.createElement("span");
        word.className = "word";
        word.textContent = m[0];
        frag.append(node.data.slice(last, m.index), word);
        last = m.index + m[0].length;
      }
      if (last) node.replaceWith(frag, node.data.slice(last));
    }
  }
  document.addEventListener("htmx:afterSwap", (e) => {
    // htmx 2 fires afterSwap on every element a response swapped in (the out-of-band shift
    // count and last scans too), each with the main target in detail.target: beep only once.
    // (The readiness screen swaps #readiness, with a #result inside when a label was scanned.)
    const r = e.target.id === "result" ? e.target
      : e.target.id === "readiness" ? e.target.querySelector("#result") : null;
    if (r) beep(r.dataset.outcome);
    keepWords(document.getElementById("result"));
    keepFocus();
  });
  // The feed of the serial scanners is polled: a station that stopped answering is said once,
  // not beeped at every poll, and the next answer clears the way for the next time.
  let feedDown = false;
  document.addEventListener("htmx:afterRequest", (e) => {
    if (e.target.id === "feed" && e.detail.successful) feedDown = false;
  });
  document.addEventListener("htmx:sendError", (e) => {
    if (e.target.id === "feed") {
      if (feedDown) return;
      feedDown = true;
    }
    const r = document.getElementById("result");
    if (!r) return;
    r.className = "result refused";
    r.dataset.outcome = "refused";
    r.querySelector(".headline").textContent = "✖ No connection to the station";
    beep("refused");
  });
  // The readiness tiles poll every 5 s: a poll would wipe a reading half typed into a tile.
  document.addEventListener("htmx:beforeRequest", (e) => {
    const tiles = e.detail.elt;
    if (tiles.id !== "readiness") return;
    const fields = tiles.querySelectorAll("form input:not([type=hidden])");
    if (tiles.contains(document.activeElement) || Array.from(fields).some((f) => f.value)) {
      e.preventDefault();
    }
  });
  document.addEventListener("click", keepFocus);
  document.addEventListener("focusout", () => setTimeout(keepFocus, 0));
  document.addEventListener("DOMContentLoaded", () => {
    keepWords(document.getElementById("result"));
    keepFocus();
  });
})();
