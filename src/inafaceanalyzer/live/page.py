"""The live view's web page: self-contained HTML, CSS and JavaScript (no CDN, works offline).

The page pulls annotated frames one at a time (``frame.jpg?after=N``, a long
poll: the next frame is asked for only once the last one is shown, so a slow
link never queues frames) and receives the statistics as Server-Sent Events
(``events``). URLs are relative, so the page also works behind a proxy path
or through SSH port forwarding. ``window.liveState`` exposes what the page
shows, for tests.
"""

from __future__ import annotations

__all__ = ["PAGE_HTML"]

PAGE_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>inafaceanalyzer live</title>
<style>
  :root { --women: rgb(255,140,26); --men: rgb(64,170,255); --bg: #15171a; --panel: #202328; --text: #e8e8e8;
          --muted: #9aa0a6; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; gap: 12px; align-items: center; padding: 8px 16px; background: var(--panel); flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0; font-weight: 600; }
  #source { color: var(--muted); overflow-wrap: anywhere; }
  .badge { padding: 2px 8px; border-radius: 10px; font-weight: 600; text-transform: uppercase; font-size: 12px;
           background: #555; }
  .badge.live { background: #1e8e3e; } .badge.reconnecting, .badge.connecting { background: #b06000; }
  .badge.failed, .badge.offline { background: #c5221f; } .badge.ended, .badge.stopped { background: #5f6368; }
  #status-message { color: var(--muted); }
  main { display: flex; gap: 16px; padding: 16px; flex-wrap: wrap; align-items: flex-start; }
  #video { flex: 3 1 480px; min-width: 0; }
  #view { display: block; width: 100%; height: auto; background: #000; min-height: 120px; transition: opacity .3s; }
  #view.stale { opacity: .45; filter: grayscale(1); }
  #frame-info { color: var(--muted); margin-top: 6px; font-variant-numeric: tabular-nums; }
  aside { flex: 1 1 300px; display: flex; flex-direction: column; gap: 12px; }
  section { background: var(--panel); border-radius: 6px; padding: 10px 12px; }
  section h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); font-weight: 600; text-transform: uppercase; }
  .big { font-size: 28px; font-weight: 700; font-variant-numeric: tabular-nums; }
  .bar { display: flex; height: 22px; border-radius: 4px; overflow: hidden; background: #3c4043; }
  .bar div { height: 100%; transition: width .4s; }
  .women { background: var(--women); } .men { background: var(--men); }
  .legend { display: flex; justify-content: space-between; margin-top: 4px; font-variant-numeric: tabular-nums; }
  .legend .w { color: var(--women); } .legend .m { color: var(--men); }
  table.hist { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  table.hist td { padding: 1px 2px; }
  table.hist td.label { width: 48px; color: var(--muted); }
  table.hist td.cell { position: relative; }
  table.hist .hb { height: 8px; margin: 1px 0; border-radius: 2px; }
  #events { list-style: none; margin: 0; padding: 0; max-height: 180px; overflow-y: auto; font-size: 12px; }
  #events li { padding: 2px 0; border-bottom: 1px solid #2e3136; }
  #events .warning, #events .error { color: #f28b82; }
  #events time { color: var(--muted); margin-right: 6px; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; font-variant-numeric: tabular-nums; }
  dt { color: var(--muted); }
  dd { margin: 0; }
</style>
</head>
<body>
<header>
  <h1>inafaceanalyzer live</h1>
  <span id="status" class="badge">connecting</span>
  <span id="source"></span>
  <span id="status-message"></span>
</header>
<main>
  <div id="video">
    <img id="view" alt="annotated live video">
    <div id="frame-info">waiting for the first frame&hellip;</div>
  </div>
  <aside>
    <section>
      <h2>Faces now</h2>
      <div class="big" id="faces-now">&ndash;</div>
      <div id="faces-list"></div>
    </section>
    <section>
      <h2 id="share-title">Women and men</h2>
      <div class="bar"><div id="women-bar" class="women" style="width:0"></div><div id="men-bar" class="men" style="width:0"></div></div>
      <div class="legend"><span class="w">women <b id="women-share">&ndash;</b></span><span class="m">men <b id="men-share">&ndash;</b></span></div>
    </section>
    <section>
      <h2>Ages</h2>
      <table class="hist" id="ages"></table>
    </section>
    <section>
      <h2>Analysis</h2>
      <dl>
        <dt>analysed</dt><dd><span id="analysed-fps">&ndash;</span> frames/s (<span id="frames-analysed">0</span> frames)</dd>
        <dt>input</dt><dd><span id="input-fps">&ndash;</span> frames/s, <span id="dropped">&ndash;</span> dropped</dd>
        <dt>delay</dt><dd><span id="delay">&ndash;</span> (mean <span id="delay-mean">&ndash;</span>)</dd>
        <dt>analysis</dt><dd><span id="analysis-ms">&ndash;</span> per frame</dd>
        <dt>frames shown</dt><dd id="frames-shown">0</dd>
      </dl>
    </section>
    <section>
      <h2>Source events</h2>
      <ul id="events"></ul>
    </section>
  </aside>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = { framesShown: 0, lastSeq: 0, statsUpdates: 0, stats: null, status: null, errors: 0 };
window.liveState = state;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (x) => (x === null || x === undefined) ? "\\u2013" : (100 * x).toFixed(0) + "%";
const secs = (x) => (x === null || x === undefined) ? "\\u2013" : (x < 1 ? (1000 * x).toFixed(0) + " ms" : x.toFixed(2) + " s");

async function frameLoop() {
  const img = $("view");
  let previous = null;
  for (;;) {
    try {
      const response = await fetch("frame.jpg?after=" + state.lastSeq + "&timeout=10", { cache: "no-store" });
      if (response.status === 200) {
        const seq = Number(response.headers.get("X-Frame-Seq"));
        const delay = Number(response.headers.get("X-Delay"));
        const number = response.headers.get("X-Frame-Number");
        const url = URL.createObjectURL(await response.blob());
        await new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; img.src = url; });
        if (previous) URL.revokeObjectURL(previous);
        previous = url;
        state.lastSeq = seq;
        state.framesShown += 1;
        $("frames-shown").textContent = state.framesShown;
        $("frame-info").textContent = "frame " + number + " \\u00b7 " + img.naturalWidth + "\\u00d7" +
          img.naturalHeight + " \\u00b7 delay " + secs(delay);
      } else if (response.status !== 204) {
        await sleep(1000);
      }
    } catch (error) {
      state.errors += 1;
      await sleep(1000);
    }
  }
}

function showStatus(source) {
  state.status = source;
  const badge = $("status");
  badge.textContent = source.state;
  badge.className = "badge " + source.state;
  $("source").textContent = source.source;
  $("status-message").textContent = source.message;
  $("view").classList.toggle("stale", source.state !== "live");
  $("input-fps").textContent = source.input_fps.toFixed(1);
  const events = $("events");
  events.replaceChildren(...source.events.slice().reverse().map((event) => {
    const item = document.createElement("li");
    item.className = event.level;
    const time = document.createElement("time");
    time.textContent = new Date(event.time).toLocaleTimeString();
    item.append(time, event.message);
    return item;
  }));
}

function showStats(stats) {
  state.stats = stats;
  state.statsUpdates += 1;
  $("faces-now").textContent = stats.faces_now;
  $("faces-list").textContent = stats.faces.map((f) => (f.sex || "?").toUpperCase() + " " + f.age.toFixed(0) + " y").join(", ");
  $("share-title").textContent = "Women and men, last " + stats.window_minutes + " min";
  $("women-share").textContent = pct(stats.women_share) + " (" + stats.women + ")";
  $("men-share").textContent = pct(stats.men_share) + " (" + stats.men + ")";
  $("women-bar").style.width = pct(stats.women_share || 0);
  $("men-bar").style.width = pct(stats.men_share || 0);
  $("analysed-fps").textContent = stats.analysed_fps.toFixed(1);
  $("frames-analysed").textContent = stats.frames_analysed;
  const read = stats.frames_analysed + stats.frames_dropped;
  $("dropped").textContent = read ? pct(stats.frames_dropped / read) : "\\u2013";
  $("delay").textContent = secs(stats.delay_s);
  $("delay-mean").textContent = secs(stats.delay_mean_s);
  $("analysis-ms").textContent = stats.analysis_ms === null ? "\\u2013" : stats.analysis_ms.toFixed(0) + " ms";
  const top = Math.max(1, ...stats.age_women, ...stats.age_men);
  const rows = stats.age_bins.map((label, i) => {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.className = "label";
    name.textContent = label;
    const cell = document.createElement("td");
    cell.className = "cell";
    for (const [cls, count] of [["women", stats.age_women[i]], ["men", stats.age_men[i]]]) {
      const bar = document.createElement("div");
      bar.className = "hb " + cls;
      bar.style.width = (100 * count / top) + "%";
      bar.title = count + " " + cls;
      cell.append(bar);
    }
    row.append(name, cell);
    return row;
  });
  $("ages").replaceChildren(...rows);
}

function statsLoop() {
  const events = new EventSource("events");
  events.onmessage = (message) => {
    const data = JSON.parse(message.data);
    showStatus(data.source);
    showStats(data.stats);
  };
  events.onerror = () => {
    const badge = $("status");
    badge.textContent = "offline";
    badge.className = "badge offline";
    $("status-message").textContent = "the analysis server does not answer; retrying";
  };
}

statsLoop();
frameLoop();
</script>
</body>
</html>
"""
