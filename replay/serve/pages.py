"""The dashboard's two pages: HTML with a little plain JavaScript, no build step.

Both load plotly.js from the dashboard itself (`/static/plotly.min.js`, the copy inside
the installed plotly package: no CDN) and put every value into the page as text
(`textContent`), never as markup, so a token symbol cannot inject anything. The live
page listens on a WebSocket that pushes the run's state every second; the analytics
page fetches its figures on load and every minute. A token given in the page's URL is
passed on to every request the page makes.
"""

from __future__ import annotations

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f2937;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;
align-items:center}header a{color:#cbd5e1;text-decoration:none}header a.on{color:#fff;
font-weight:600}main{padding:1em 1.2em;max-width:1300px;margin:auto}
h2{font-size:1.05em;margin:1.2em 0 .4em}select{font-size:.9em}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{background:#fff;border:1px solid #ddd;
border-radius:6px;padding:.4em .8em;min-width:9em}.card b{display:block;font-size:1.25em}
table{border-collapse:collapse;font-size:.85em;background:#fff;width:100%}
td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
th{background:#f1f1f1}td:first-child,th:first-child,td.l,th.l{text-align:left}
.pos{color:#1a7f37}.neg{color:#c62828}.bad{color:#c62828;font-weight:600}
.note{color:#666;font-size:.85em}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em}
"""

_COMMON_JS = """
const params = new URLSearchParams(location.search);
const token = params.get('token');
function withToken(path) {
  if (!token) return path;
  return path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
}
function utc(ns) {
  if (ns === null || ns === undefined) return '-';
  return new Date(Number(ns) / 1e6).toISOString().replace('T', ' ').slice(0, 19);
}
function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  return Number(v).toFixed(digits);
}
function sig(v) {
  if (v === null || v === undefined) return '-';
  return Number(v).toPrecision(6).replace(/\\.?0+(e|$)/, '$1');
}
function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}
function signed(tr, v, digits, suffix) {
  cell(tr, v === null || v === undefined ? '-' : (v > 0 ? '+' : '') + fmt(v, digits) +
       (suffix || ''), v > 0 ? 'pos' : v < 0 ? 'neg' : '');
}
function fill(id, rows, draw) {
  const body = document.querySelector('#' + id + ' tbody');
  body.replaceChildren();
  for (const r of rows) { const tr = document.createElement('tr'); draw(tr, r);
    body.appendChild(tr); }
  if (!rows.length) {
    const tr = document.createElement('tr'); tr.className = 'empty';
    const td = document.createElement('td'); td.className = 'note'; td.textContent = 'none yet';
    td.colSpan = document.querySelectorAll('#' + id + ' thead th').length;
    tr.appendChild(td); body.appendChild(tr);
  }
}
function setText(id, text, cls) {
  const el = document.getElementById(id);
  el.textContent = text;
  if (cls !== undefined) el.className = cls;
}
async function loadRuns(pick) {
  const res = await fetch(withToken('/api/runs'));
  const runs = await res.json();
  const sel = document.getElementById('run');
  sel.replaceChildren();
  for (const r of runs) {
    const o = document.createElement('option');
    o.value = r.run_id;
    o.textContent = r.run_id + ' (' + (r.strategy || '?') + ', ' + (r.mode || '?') +
      (r.live ? ', live' : r.finished ? ', finished' : '') + ')';
    sel.appendChild(o);
  }
  const want = params.get('run') || (runs.find(r => r.live) || runs[0] || {}).run_id;
  if (want) sel.value = want;
  sel.onchange = () => { params.set('run', sel.value);
    location.search = params.toString(); };
  for (const a of document.querySelectorAll('header a.nav')) {
    const q = new URLSearchParams(); if (sel.value) q.set('run', sel.value);
    if (token) q.set('token', token); a.href = a.dataset.path + '?' + q.toString();
  }
  pick(sel.value);
}
"""


def _page(title: str, active: str, body: str, script: str) -> str:
    nav = "".join(
        f'<a class="nav{" on" if name == active else ""}" data-path="{path}" href="{path}">'
        f"{name}</a>"
        for name, path in (("Live", "/"), ("Analytics", "/analytics"), ("Report", "/report"))
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Clanka: {title}</title>"
        f"<link rel='icon' href='data:,'><style>{_STYLE}</style>"
        f"<script src='/static/plotly.min.js'></script></head><body>"
        f"<header><b>Clanka</b>{nav}<span>run <select id='run'></select></span>"
        f"<span class='note' id='updated'>connecting…</span></header><main>{body}</main>"
        f"<script>{_COMMON_JS}{script}</script></body></html>"
    )


_LIVE_BODY = """
<div class="cards">
 <div class="card">portfolio value (SOL)<b id="portfolio">-</b></div>
 <div class="card">cash (SOL)<b id="cash">-</b></div>
 <div class="card">today (UTC), equity change<b id="day_change">-</b></div>
 <div class="card">today, closed PnL<b id="day_realized">-</b></div>
 <div class="card">win rate<b id="win_rate">-</b></div>
 <div class="card">trades closed<b id="closed">-</b></div>
 <div class="card">breakers<b id="breakers">-</b></div>
 <div class="card">feed<b id="feed">-</b></div>
</div>
<h2>Open positions</h2>
<table id="positions"><thead><tr><th>trade</th><th class="l">token</th>
<th class="l">opened (UTC)</th><th>entry price</th><th>size SOL</th><th>last price</th>
<th>value SOL</th><th>PnL SOL</th><th>PnL %</th><th>stop</th></tr></thead><tbody></tbody></table>
<h2>Last 10 decisions</h2>
<table id="decisions"><thead><tr><th>time (UTC)</th><th class="l">token</th>
<th class="l">action</th><th class="l">reason</th><th>confidence</th><th>price</th></tr>
</thead><tbody></tbody></table>
<h2>Equity</h2><div id="equity" style="height:300px"></div>
<p class="note" id="feed_detail"></p>
"""

_LIVE_JS = """
let pushes = 0;
function draw(s) {
  pushes += 1;
  setText('updated', 'updated ' + new Date().toISOString().slice(11, 19) + ' UTC (' +
          pushes + ' pushes); market time ' + utc(s.now_ns));
  setText('portfolio', fmt(s.portfolio_sol, 4));
  setText('cash', fmt(s.cash_sol, 4));
  setText('day_change', (s.day_change_sol > 0 ? '+' : '') + fmt(s.day_change_sol, 4),
          s.day_change_sol > 0 ? 'pos' : s.day_change_sol < 0 ? 'neg' : '');
  setText('day_realized', (s.day_realized_sol > 0 ? '+' : '') + fmt(s.day_realized_sol, 4));
  setText('win_rate', s.win_rate === null ? '-' : fmt(s.win_rate * 100, 1) + '%');
  setText('closed', String(s.trades_closed));
  const tripped = s.breakers.filter(b => b.tripped).map(b => b.breaker);
  setText('breakers', tripped.length ? tripped.join(', ') + ' TRIPPED' : 'all clear',
          tripped.length ? 'bad' : '');
  setText('feed', s.feed.state, s.feed.state === 'live' ? 'pos' : '');
  setText('feed_detail', 'feed: ' + s.feed.ticks + ' ticks, last received ' +
          utc(s.feed.last_received_ns) + ' UTC, ' + s.feed.gaps + ' gap(s)' +
          (s.feed.last_gap ? ' (last: ' + s.feed.last_gap.reason + ')' : '') + ', ' +
          s.feed.quarantined + ' quarantined');
  fill('positions', s.positions, (tr, p) => {
    cell(tr, p.trade); cell(tr, p.symbol, 'l'); cell(tr, utc(p.entry_ns), 'l');
    cell(tr, sig(p.entry_price)); cell(tr, fmt(p.size_sol, 4)); cell(tr, sig(p.last_price));
    cell(tr, fmt(p.value_sol, 4)); signed(tr, p.pnl_sol, 4); signed(tr, p.pnl_pct, 1, '%');
    cell(tr, sig(p.stop_price));
  });
  fill('decisions', s.decisions, (tr, d) => {
    cell(tr, utc(d.ts_ns)); cell(tr, d.symbol, 'l'); cell(tr, d.action, 'l');
    cell(tr, d.reason, 'l'); cell(tr, d.confidence === null ? '-' : fmt(d.confidence, 2));
    cell(tr, sig(d.price));
  });
  const x = s.equity.map(e => new Date(e[0] / 1e6));
  Plotly.react('equity', [{x: x, y: s.equity.map(e => e[1]), mode: 'lines',
    name: 'equity (SOL)'}], {margin: {t: 10, b: 30}, xaxis: {title: 'time (UTC)'},
    yaxis: {title: 'SOL'}});
}
function connect(run) {
  if (!run) { setText('updated', 'no runs in this store yet'); return; }
  const proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const ws = new WebSocket(proto + location.host +
    withToken('/ws/live?run=' + encodeURIComponent(run)));
  ws.onmessage = ev => draw(JSON.parse(ev.data));
  ws.onclose = () => { setText('updated', 'disconnected; retrying', 'bad');
    setTimeout(() => connect(run), 2000); };
}
loadRuns(connect);
"""

_ANALYTICS_BODY = """
<div class="grid">
 <div><h2>Pattern success rates</h2><div id="patterns_chart" style="height:280px"></div>
 <table id="patterns"><thead><tr><th class="l">pattern</th><th>hits</th><th>success</th>
 <th>mean return</th></tr></thead><tbody></tbody></table></div>
 <div><h2>PnL by hour (UTC, trades closed)</h2><div id="hourly" style="height:280px"></div>
 </div>
</div>
<div class="grid">
 <div><h2>Top 5 winning trades</h2><table id="wins"><thead><tr><th>trade</th>
 <th class="l">token</th><th class="l">closed (UTC)</th><th>size SOL</th><th>PnL SOL</th>
 <th>PnL %</th><th class="l">exits</th></tr></thead><tbody></tbody></table></div>
 <div><h2>Top 5 losing trades</h2><table id="losses"><thead><tr><th>trade</th>
 <th class="l">token</th><th class="l">closed (UTC)</th><th>size SOL</th><th>PnL SOL</th>
 <th>PnL %</th><th class="l">exits</th></tr></thead><tbody></tbody></table></div>
</div>
<h2>Parameter evolution</h2><div id="evolution" style="height:280px"></div>
<table id="changes"><thead><tr><th class="l">time (UTC)</th><th class="l">parameter</th>
<th>from</th><th>to</th><th class="l">asked by</th><th class="l">why</th></tr></thead>
<tbody></tbody></table>
<h2>Strategist proposals</h2><table id="strategist"><thead><tr><th class="l">time (UTC)</th>
<th>call</th><th class="l">status</th><th class="l">change or reason</th></tr></thead>
<tbody></tbody></table>
<h2>Learning insights</h2><table id="insights"><thead><tr><th class="l">time (UTC)</th>
<th class="l">kind</th><th class="l">insight</th></tr></thead><tbody></tbody></table>
<h2>Adaptations</h2><table id="adaptations"><thead><tr><th class="l">time (UTC)</th>
<th class="l">action</th><th class="l">parameter</th><th>from</th><th>to</th>
<th class="l">status</th><th class="l">why</th></tr></thead><tbody></tbody></table>
"""

_ANALYTICS_JS = """
let loads = 0;
function trades(id, rows) {
  fill(id, rows, (tr, t) => {
    cell(tr, t.trade); cell(tr, t.symbol, 'l'); cell(tr, utc(t.exit_ts_ns), 'l');
    cell(tr, fmt(t.size_sol, 4)); signed(tr, t.pnl_sol, 4); signed(tr, t.pnl_pct * 100, 1, '%');
    cell(tr, t.exit_reasons || '-', 'l');
  });
}
async function load(run) {
  if (!run) { setText('updated', 'no runs in this store yet'); return; }
  const res = await fetch(withToken('/api/analytics?run=' + encodeURIComponent(run)));
  const a = await res.json();
  loads += 1;
  setText('updated', 'loaded ' + new Date().toISOString().slice(11, 19) + ' UTC (' + loads +
          ' loads; every minute)');
  fill('patterns', a.patterns, (tr, p) => { cell(tr, p.pattern);
    cell(tr, String(p.occurrences)); cell(tr, fmt(p.success_rate * 100, 0) + '%');
    signed(tr, p.mean_return * 100, 1, '%'); });
  Plotly.react('patterns_chart', [{type: 'bar', x: a.patterns.map(p => p.pattern),
    y: a.patterns.map(p => p.success_rate * 100), name: 'success %'}],
    {margin: {t: 10, b: 90}, yaxis: {title: '% of hits that made money'}});
  Plotly.react('hourly', [{type: 'bar', x: a.hourly_pnl.map(h => new Date(h.hour_ns / 1e6)),
    y: a.hourly_pnl.map(h => h.pnl_sol), text: a.hourly_pnl.map(h => h.trades + ' trades'),
    marker: {color: a.hourly_pnl.map(h => h.pnl_sol >= 0 ? '#1a7f37' : '#c62828')}}],
    {margin: {t: 10, b: 40}, yaxis: {title: 'SOL'}, xaxis: {title: 'hour (UTC)'}});
  trades('wins', a.top_wins); trades('losses', a.top_losses);
  const lines = [], changes = [];
  for (const [name, pts] of Object.entries(a.param_evolution)) {
    // From the run's first event to its last: the value before, each change, the value now.
    const xs = [a.first_ns].concat(pts.map(p => p.ts_ns), [a.last_ns]);
    const ys = [pts[0].old_value].concat(pts.map(p => p.new_value),
                                         [pts[pts.length - 1].new_value]);
    lines.push({x: xs.map(t => new Date(t / 1e6)), y: ys, mode: 'lines+markers',
      line: {shape: 'hv'}, name: name});
    for (const p of pts) changes.push(Object.assign({name: name}, p));
  }
  Plotly.react('evolution', lines, {margin: {t: 10, b: 30}, xaxis: {title: 'time (UTC)'}});
  changes.sort((a, b) => a.ts_ns - b.ts_ns);
  fill('changes', changes, (tr, c) => { cell(tr, utc(c.ts_ns)); cell(tr, c.name, 'l');
    cell(tr, sig(c.old_value)); cell(tr, sig(c.new_value)); cell(tr, c.requested_by || '-', 'l');
    cell(tr, c.reason || '', 'l'); });
  fill('strategist', a.strategist, (tr, s) => { cell(tr, utc(s.ts_ns));
    cell(tr, String(s.call_no)); cell(tr, s.status, 'l');
    cell(tr, s.changes || s.reason || '', 'l'); });
  fill('insights', a.insights, (tr, i) => { cell(tr, utc(i.ts_ns)); cell(tr, i.kind, 'l');
    cell(tr, i.text, 'l'); });
  fill('adaptations', a.adaptations, (tr, d) => { cell(tr, utc(d.ts_ns));
    cell(tr, d.action, 'l'); cell(tr, d.param || '-', 'l'); cell(tr, sig(d.old_value));
    cell(tr, sig(d.new_value)); cell(tr, d.status, 'l'); cell(tr, d.reason || '', 'l'); });
}
loadRuns(run => { load(run); setInterval(() => load(run), 60000); });
"""

_REPORT_PICK_JS = """
loadRuns(run => { if (run) location.replace(withToken('/report/' + encodeURIComponent(run)));
  else setText('updated', 'no runs in this store yet'); });
"""

LIVE_PAGE = _page("live", "Live", _LIVE_BODY, _LIVE_JS)
ANALYTICS_PAGE = _page("analytics", "Analytics", _ANALYTICS_BODY, _ANALYTICS_JS)
REPORT_PICK_PAGE = _page("report", "Report", "<p>opening the run's report…</p>", _REPORT_PICK_JS)
