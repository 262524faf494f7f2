/* pipework report: the timeline (canvas) and the job table (paged), from the embedded JSON.
   Written for this page only; no library, no network. The table's filter, sort and page can be set
   in the address (#proc=Count&state=failed&q=node7&sort=wall&page=2). */
(function () {
  "use strict";
  var body = document.body;
  window.addEventListener("error", function (e) { body.setAttribute("data-error", String(e.message)); });
  var D = JSON.parse(document.getElementById("pw-data").textContent);
  var J = D.jobs, S = D.strings, N = D.n;
  ["p", "i", "s", "rc", "a", "q", "t0", "t1", "w", "c", "m", "h", "j", "r", "f"].forEach(function (k) {
    if (!J[k]) { J[k] = new Array(N); for (var n = 0; n < N; n++) J[k][n] = null; }  /* a column with no value */
  });
  var COLOURS = { done: "#3c9d4e", cached: "#9ccc65", failed: "#d9534f", killed: "#e08e0b", lost: "#8e24aa",
                  running: "#2f7ed8", queued: "#90a4ae", pending: "#cfd8dc", "not run": "#bdbdbd" };

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
  }
  function secs(v) {
    if (v === null || v === undefined) return "";
    if (v < 60) return v.toFixed(v < 10 ? 2 : 1) + "s";
    if (v < 3600) return Math.floor(v / 60) + "m " + Math.round(v % 60) + "s";
    return Math.floor(v / 3600) + "h " + Math.round((v % 3600) / 60) + "m";
  }
  function kib(v) {
    if (v === null || v === undefined) return "";
    var u = ["KiB", "MiB", "GiB", "TiB"], i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return v.toFixed(i ? 1 : 0) + " " + u[i];
  }
  var TABLE = { p: "proc", s: "state", h: "host", r: "reason", f: "failure" };
  function str(col, n) { var k = J[col][n]; return k ? S[TABLE[col]][k - 1] : ""; }
  function dir(n) { return (J.d && J.d[n]) || (D.run.workdir.replace(/\/$/, "") + "/" + str("p", n) + "/" + J.i[n]); }

  /* -- the timeline: a band per process, its jobs packed into lanes -------------------------------- */
  var MAX_LANES = 24, LANE = 8, GAP = 10, LEFT = 150;
  function timeline() {
    var canvas = document.getElementById("timeline");
    if (!canvas) return;
    var byProc = [], i, n, end = 0;
    for (i = 0; i < S.proc.length; i++) byProc.push([]);
    for (n = 0; n < N; n++) {
      if (J.t0[n] === null) continue;
      byProc[J.p[n] - 1].push(n);
      end = Math.max(end, J.t1[n] === null ? J.t0[n] : J.t1[n]);
    }
    var total = 0;
    byProc.forEach(function (jobs) { total += Math.min(MAX_LANES, Math.max(1, jobs.length)); });
    LANE = Math.max(4, Math.min(12, Math.floor(420 / Math.max(1, total))));
    var order = D.procs.map(function (p) { return S.proc.indexOf(p.name); }).filter(function (k) { return k >= 0; });
    var bands = [], y = 4, drawn = 0;
    order.forEach(function (k) {
      var jobs = byProc[k].sort(function (a, b) { return J.t0[a] - J.t0[b]; });
      var lanes = [], ends = [];
      jobs.forEach(function (n) {
        var l = 0;
        while (l < ends.length && ends[l] > J.t0[n]) l++;
        if (l >= MAX_LANES) l = n % MAX_LANES;
        if (l === ends.length) { ends.push(0); lanes.push([]); }
        ends[l] = Math.max(ends[l], J.t1[n] === null ? end : J.t1[n]);
        lanes[l].push(n);
      });
      var h = Math.max(1, lanes.length) * LANE + GAP;
      bands.push({ proc: S.proc[k], y: y, h: h, lanes: lanes });
      y += h;
      drawn += jobs.length;
    });
    var width = canvas.parentNode.clientWidth || 1000, height = y + 24, ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio; canvas.height = height * ratio; canvas.style.height = height + "px";
    var ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    var span = end > 0 ? end : 1, scale = (width - LEFT - 12) / span;
    ctx.font = "12px system-ui, sans-serif";
    bands.forEach(function (b, bi) {
      if (bi % 2) { ctx.fillStyle = "#f7f9fb"; ctx.fillRect(0, b.y - GAP / 2, width, b.h); }
      ctx.fillStyle = "#1f2933";
      ctx.fillText(b.proc.length > 20 ? b.proc.slice(0, 19) + "\u2026" : b.proc, 6, b.y + Math.min(b.h - GAP, 12) + 1);
      ctx.fillStyle = "#b0bec5";  /* waiting in the queue: a thin line under the lane, drawn first */
      b.lanes.forEach(function (lane, l) {
        lane.forEach(function (n) {
          if (J.q[n] !== null && J.q[n] < J.t0[n]) ctx.fillRect(LEFT + J.q[n] * scale, b.y + l * LANE + LANE - 2, (J.t0[n] - J.q[n]) * scale, 1);
        });
      });
      b.lanes.forEach(function (lane, l) {
        lane.forEach(function (n) {
          var x0 = LEFT + J.t0[n] * scale, x1 = LEFT + (J.t1[n] === null ? end : J.t1[n]) * scale;
          ctx.fillStyle = COLOURS[str("s", n)] || "#607d8b";
          ctx.fillRect(x0, b.y + l * LANE, Math.max(1, x1 - x0 - 0.5), LANE - 2);
        });
      });
    });
    ctx.fillStyle = "#5f6b7a"; ctx.strokeStyle = "#cfd8dc";
    for (i = 0; i <= 8; i++) {
      var t = span * i / 8, x = LEFT + t * scale;
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, y); ctx.stroke();
      var label = secs(t);
      ctx.fillText(label, Math.min(x - 8, width - ctx.measureText(label).width - 4), y + 16);
    }
    canvas.setAttribute("data-jobs", String(drawn));
    canvas.setAttribute("data-bands", String(bands.length));
    var tip = document.getElementById("tip");
    canvas.addEventListener("mousemove", function (e) {
      var r = canvas.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top, hit = null;
      bands.forEach(function (b) {
        var l = Math.floor((my - b.y) / LANE);
        if (my >= b.y && l >= 0 && l < b.lanes.length) {
          var t = (mx - LEFT) / scale;
          b.lanes[l].forEach(function (n) { if (J.t0[n] <= t && (J.t1[n] === null || J.t1[n] >= t)) hit = n; });
        }
      });
      if (hit === null) { tip.style.display = "none"; return; }
      tip.textContent = str("p", hit) + " job " + J.i[hit] + ": " + str("s", hit) + ", started " + secs(J.t0[hit]) +
        (J.w[hit] !== null ? ", wall " + secs(J.w[hit]) : "") + (J.h[hit] !== null ? " on " + str("h", hit) : "");
      tip.style.display = "block"; tip.style.left = (mx + 12) + "px"; tip.style.top = (my + 10) + "px";
    });
    canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  }

  /* -- the job table: filter, sort, pages ---------------------------------------------------------- */
  var PAGE = 100;
  var COLS = [
    { key: "p", title: "process", get: function (n) { return str("p", n); } },
    { key: "i", title: "index", num: true, get: function (n) { return J.i[n]; } },
    { key: "s", title: "state", get: function (n) { return str("s", n); } },
    { key: "rc", title: "rc", num: true, get: function (n) { return J.rc[n]; } },
    { key: "a", title: "attempts", num: true, get: function (n) { return J.a[n]; } },
    { key: "t0", title: "start", num: true, get: function (n) { return J.t0[n]; }, fmt: secs },
    { key: "w", title: "wall", num: true, get: function (n) { return J.w[n]; }, fmt: secs },
    { key: "c", title: "CPU", num: true, get: function (n) { return J.c[n]; }, fmt: secs },
    { key: "cpu%", title: "%CPU", num: true, get: function (n) { return J.c[n] !== null && J.w[n] ? 100 * J.c[n] / J.w[n] : null; },
      fmt: function (v) { return v === null ? "" : v.toFixed(0) + "%"; } },
    { key: "m", title: "peak RSS", num: true, get: function (n) { return J.m[n]; }, fmt: kib },
    { key: "h", title: "host", get: function (n) { return str("h", n); } },
    { key: "j", title: "scheduler id", get: function (n) { return J.j[n] === null ? "" : J.j[n]; } },
    { key: "r", title: "why it ran / failed", wrap: true, get: function (n) { return str("f", n) || str("r", n) || (str("s", n) === "cached" ? "" : ""); } }
  ];
  var state = { proc: "", state: "", q: "", sort: "", up: true, page: 1 };
  var view = [];

  function readHash() {
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var p = kv.split("="), k = decodeURIComponent(p[0] || ""), v = decodeURIComponent(p[1] || "");
      if (k === "page") state.page = Math.max(1, parseInt(v, 10) || 1);
      else if (k === "up") state.up = v !== "0";
      else if (k in state) state[k] = v;
    });
  }
  function filter() {
    var want = S.proc.indexOf(state.proc) + 1, ws = S.state.indexOf(state.state) + 1;
    var q = state.q.toLowerCase(), out = [], n;
    for (n = 0; n < N; n++) {
      if (state.proc && J.p[n] !== want) continue;
      if (state.state && J.s[n] !== ws) continue;
      if (q && (str("p", n) + " " + J.i[n] + " " + str("h", n) + " " + (J.j[n] || "") + " " + str("r", n) + " " + str("f", n)).toLowerCase().indexOf(q) < 0) continue;
      out.push(n);
    }
    var col = COLS.filter(function (c) { return c.key === state.sort; })[0];
    if (col) {
      var sign = state.up ? 1 : -1;
      out.sort(function (a, b) {
        var x = col.get(a), y = col.get(b);
        if (x === y) return a - b;
        if (x === null || x === "") return 1;
        if (y === null || y === "") return -1;
        return (x < y ? -1 : 1) * sign;
      });
    }
    view = out;
  }
  function render() {
    var pages = Math.max(1, Math.ceil(view.length / PAGE));
    state.page = Math.min(state.page, pages);
    var start = (state.page - 1) * PAGE, rows = [], k;
    for (k = start; k < Math.min(view.length, start + PAGE); k++) {
      var n = view[k], cells = COLS.map(function (c) {
        var v = c.get(n), text = c.fmt ? c.fmt(v) : (v === null ? "" : v);
        var style = c.key === "s" ? '<span class="st" style="background:' + (COLOURS[v] || "#607d8b") + '"></span>' : "";
        return "<td" + (c.num ? ' class="num"' : c.wrap ? ' class="wrap"' : "") + ">" + style + esc(text) + "</td>";
      });
      rows.push('<tr data-n="' + n + '">' + cells.join("") + "</tr>");
    }
    document.getElementById("jobs-body").innerHTML = rows.join("");
    var shown = view.length ? (start + 1) + "\u2013" + Math.min(view.length, start + PAGE) : "0";
    document.getElementById("pager").textContent = "jobs " + shown + " of " + view.length +
      (view.length !== N ? " (filtered from " + N + ")" : "") + ", page " + state.page + " of " + pages;
    document.getElementById("prev").disabled = state.page <= 1;
    document.getElementById("next").disabled = state.page >= pages;
    Array.prototype.forEach.call(document.querySelectorAll("#jobs th"), function (th) {
      th.className = (COLS[th.cellIndex].num ? "num " : "") + (th.getAttribute("data-key") === state.sort ? "sorted" + (state.up ? " up" : "") : "");
    });
    var table = document.getElementById("jobs");
    table.setAttribute("data-rows", String(view.length));
    table.setAttribute("data-page", String(state.page));
  }
  function update(reset) { if (reset) state.page = 1; filter(); render(); }

  function table() {
    readHash();
    var head = document.getElementById("jobs-head");
    head.innerHTML = "<tr>" + COLS.map(function (c) { return '<th data-key="' + c.key + '">' + esc(c.title) + "</th>"; }).join("") + "</tr>";
    var procSel = document.getElementById("f-proc"), stateSel = document.getElementById("f-state"), q = document.getElementById("f-q");
    procSel.innerHTML = '<option value="">every process</option>' + D.procs.map(function (p) { return "<option>" + esc(p.name) + "</option>"; }).join("");
    stateSel.innerHTML = '<option value="">every state</option>' + S.state.map(function (s) { return "<option>" + esc(s) + "</option>"; }).join("");
    procSel.value = state.proc; stateSel.value = state.state; q.value = state.q;
    procSel.onchange = function () { state.proc = procSel.value; update(true); };
    stateSel.onchange = function () { state.state = stateSel.value; update(true); };
    var timer = null;
    q.oninput = function () { clearTimeout(timer); timer = setTimeout(function () { state.q = q.value; update(true); }, 150); };
    document.getElementById("prev").onclick = function () { state.page--; render(); };
    document.getElementById("next").onclick = function () { state.page++; render(); };
    head.onclick = function (e) {
      var key = e.target.getAttribute("data-key");
      if (!key) return;
      state.up = state.sort === key ? !state.up : true;
      state.sort = key;
      update(true);
    };
    document.getElementById("jobs-body").onclick = function (e) {
      var tr = e.target.closest("tr");
      if (!tr || tr.className === "detail") return;
      if (tr.nextSibling && tr.nextSibling.className === "detail") { tr.parentNode.removeChild(tr.nextSibling); return; }
      var n = +tr.getAttribute("data-n"), d = document.createElement("tr");
      d.className = "detail";
      d.innerHTML = '<td colspan="' + COLS.length + '">' + esc("job dir: " + dir(n) + (str("f", n) ? "\nfailure: " + str("f", n) : "") +
        (str("r", n) ? "\nran because: " + str("r", n) : "")) + "</td>";
      tr.parentNode.insertBefore(d, tr.nextSibling);
    };
    update(false);
  }

  timeline();
  table();
  body.setAttribute("data-ready", "1");
})();
