/**
 * The status page served at `/` of a daemon's metrics server: one HTML document with inline CSS
 * and JavaScript, no framework and no external assets, so it works offline and behind any proxy.
 * It fetches `/status` every second and draws each section of the document as a table: an array
 * of objects as rows, an object as name/value pairs. Every value is set as text (never as HTML):
 * service names and addresses come from peers.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zpatterns status</title>
<style>
  :root { color-scheme: light dark; --bg: #fff; --fg: #1d2430; --dim: #6b7585; --line: #d9dee6; --head: #f2f4f7; --ok: #1a7f37; --bad: #c62828; }
  @media (prefers-color-scheme: dark) { :root { --bg: #11151b; --fg: #e4e8ee; --dim: #8b95a5; --line: #2a313c; --head: #1a2029; } }
  body { margin: 0; padding: 1rem 1.5rem; background: var(--bg); color: var(--fg); font: 14px/1.4 system-ui, sans-serif; }
  header { display: flex; flex-wrap: wrap; gap: .25rem 1.5rem; align-items: baseline; margin-bottom: 1rem; }
  h1 { font-size: 1.3rem; margin: 0; }
  h2 { font-size: 1rem; margin: 1.25rem 0 .4rem; text-transform: capitalize; }
  h3 { font-size: .9rem; margin: .8rem 0 .3rem; color: var(--dim); }
  .meta { color: var(--dim); }
  #conn.ok { color: var(--ok); } #conn.bad { color: var(--bad); font-weight: 600; }
  table { border-collapse: collapse; min-width: 20rem; }
  th, td { border: 1px solid var(--line); padding: .2rem .6rem; text-align: left; }
  th { background: var(--head); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .empty { color: var(--dim); font-style: italic; }
  .flag-bad { color: var(--bad); font-weight: 600; }
</style>
</head>
<body>
<header>
  <h1 id="daemon">zpatterns</h1>
  <span class="meta" id="meta"></span>
  <span id="conn">connecting…</span>
</header>
<main id="sections"></main>
<script>
(function () {
  'use strict';
  var HEADER = { version: 1, daemon: 1, pid: 1, time: 1, uptimeMs: 1 };
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function words(key) { return key.replace(/Ms$/, '').replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase(); }
  function duration(ms) {
    if (ms < 1000) return Math.round(ms) + ' ms';
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.floor(s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }
  function bytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }
  function format(key, value) {
    if (value === null || value === undefined) return '–';
    if (typeof value === 'boolean') return value ? 'yes' : 'no';
    if (typeof value === 'number') {
      if (/Ms$/.test(key)) return duration(value);
      if (/[bB]ytes$/.test(key)) return bytes(value);
      if (/PerSecond$/.test(key)) return value.toFixed(1);
      return String(value);
    }
    if (Array.isArray(value)) return value.map(function (v) { return typeof v === 'object' ? JSON.stringify(v) : String(v); }).join(', ');
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }
  function cell(key, value) {
    var td = el('td', { 'data-col': key }, format(key, value));
    if (typeof value === 'number') td.className = 'num';
    if (value === false && /^(healthy|ok|connected)$/.test(key)) td.className = 'flag-bad';
    return td;
  }
  function rowsTable(id, rows) {
    if (rows.length === 0) return el('p', { id: id, 'class': 'empty' }, 'none');
    var cols = [];
    rows.forEach(function (r) { Object.keys(r).forEach(function (k) { if (cols.indexOf(k) < 0) cols.push(k); }); });
    var table = el('table', { id: id });
    var head = el('tr');
    cols.forEach(function (c) {
      var name = c.replace(/Ms$/, '');
      head.appendChild(el('th', {}, words(c) + (name !== c && cols.indexOf(name) >= 0 ? ' for' : '')));
    });
    table.appendChild(head);
    rows.forEach(function (r) {
      var tr = el('tr', { 'data-key': String(r[cols[0]]) });
      cols.forEach(function (c) { tr.appendChild(cell(c, r[c])); });
      table.appendChild(tr);
    });
    return table;
  }
  function section(key, value) {
    var box = el('section', { id: 's-' + key });
    box.appendChild(el('h2', {}, words(key)));
    if (Array.isArray(value)) {
      box.appendChild(rowsTable('t-' + key, value));
      return box;
    }
    var pairs = el('table', { id: 't-' + key });
    var nested = [];
    Object.keys(value).forEach(function (k) {
      var v = value[k];
      if (Array.isArray(v) && v.some(function (x) { return x !== null && typeof x === 'object'; })) { nested.push(k); return; }
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) { nested.push(k); return; }
      var tr = el('tr', { 'data-key': k });
      tr.appendChild(el('th', {}, words(k)));
      tr.appendChild(cell(k, v));
      pairs.appendChild(tr);
    });
    if (pairs.childNodes.length > 0) box.appendChild(pairs);
    nested.forEach(function (k) {
      var v = value[k];
      box.appendChild(el('h3', {}, words(k)));
      box.appendChild(Array.isArray(v) ? rowsTable('t-' + key + '-' + k, v) : rowsTable('t-' + key + '-' + k, [v]));
    });
    return box;
  }
  function draw(doc) {
    document.getElementById('daemon').textContent = String(doc.daemon);
    document.title = doc.daemon + ' status';
    document.getElementById('meta').textContent =
      'pid ' + doc.pid + ' · up ' + duration(doc.uptimeMs) + ' · schema v' + doc.version + ' · ' + doc.time;
    var main = el('main', { id: 'sections' });
    Object.keys(doc).forEach(function (k) {
      var v = doc[k];
      if (HEADER[k] || v === null || typeof v !== 'object') return;
      main.appendChild(section(k, v));
    });
    var old = document.getElementById('sections');
    old.parentNode.replaceChild(main, old);
  }
  var conn = document.getElementById('conn');
  var busy = false;
  function tick() {
    if (busy) return;
    busy = true;
    fetch('status', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (doc) { draw(doc); conn.textContent = 'live'; conn.className = 'ok'; })
      .catch(function (e) { conn.textContent = 'not answering (' + e.message + '): showing the last answer'; conn.className = 'bad'; })
      .then(function () { busy = false; });
  }
  tick();
  setInterval(tick, 1000);
})();
</script>
</body>
</html>
`;
