// Kiln's dashboard: draws /api/v1/summary every few seconds and follows a build's log over the
// build API's server-sent events. No libraries and nothing fetched from elsewhere: it must work
// on a gateway without internet access.
'use strict';

const REFRESH_MS = 5000;
const SVG = 'http://www.w3.org/2000/svg';
let following = null; // {id, source}

function $(id) { return document.getElementById(id); }

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

function duration(ms) {
  if (ms === null || ms === undefined) { return '–'; }
  if (ms < 1000) { return ms + ' ms'; }
  const s = ms / 1000;
  return s < 60 ? s.toFixed(1) + ' s' : Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
}

/** Sets a number: the exact value in data-value (tests and tooltips), a readable one as text. */
function number(id, value, text) {
  const el = $(id);
  el.dataset.value = String(value);
  el.textContent = text === undefined ? String(value) : text;
  el.title = String(value);
}

function el(tag, attrs, text) {
  const node = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { node.setAttribute(k, v); }
  if (text !== undefined) { node.textContent = text; }
  return node;
}

function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

function sum(list, field) { return list.reduce((a, u) => a + u[field], 0); }

function drawHitRatio(history) {
  const svg = $('hit-ratio-chart');
  clear(svg);
  const w = 480, h = 160, left = 32, bottom = 18, top = 6;
  svg.appendChild(el('svg:line', {class: 'axis', x1: left, y1: h - bottom, x2: w, y2: h - bottom}));
  for (const frac of [0, 0.5, 1]) {
    const y = top + (1 - frac) * (h - bottom - top);
    svg.appendChild(el('svg:line', {class: 'axis', x1: left, y1: y, x2: w, y2: y}));
    svg.appendChild(el('svg:text', {x: 2, y: y + 3}, Math.round(frac * 100) + '%'));
  }
  // one point per interval that had requests: the share answered from the store
  const points = [];
  for (let i = 1; i < history.length; i++) {
    const hits = history[i].hits - history[i - 1].hits;
    const misses = history[i].misses - history[i - 1].misses;
    if (hits + misses > 0) { points.push({t: Date.parse(history[i].at), ratio: hits / (hits + misses)}); }
  }
  svg.dataset.points = String(points.length);
  if (history.length === 0) { return; }
  const t0 = Date.parse(history[0].at);
  const t1 = Math.max(Date.parse(history[history.length - 1].at), t0 + 1);
  const x = t => left + (t - t0) / (t1 - t0) * (w - left - 4);
  const y = r => top + (1 - r) * (h - bottom - top);
  svg.appendChild(el('svg:text', {x: left, y: h - 4}, new Date(t0).toLocaleTimeString()));
  svg.appendChild(el('svg:text', {x: w - 2, y: h - 4, 'text-anchor': 'end'}, new Date(t1).toLocaleTimeString()));
  if (points.length === 0) {
    svg.appendChild(el('svg:text', {x: left + 10, y: h / 2}, 'no mirror requests yet'));
    return;
  }
  svg.appendChild(el('svg:polyline', {class: 'line', points: points.map(p => x(p.t).toFixed(1) + ',' + y(p.ratio).toFixed(1)).join(' ')}));
  for (const p of points) {
    svg.appendChild(el('svg:circle', {class: 'cache', cx: x(p.t).toFixed(1), cy: y(p.ratio).toFixed(1), r: 2.5}));
  }
}

function drawBytes(upstreams) {
  const svg = $('bytes-chart');
  clear(svg);
  const row = 24, left = 110, w = 480;
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + Math.max(40, upstreams.length * row + 8));
  const max = Math.max(1, ...upstreams.map(u => u.bytesFromCache + u.bytesFromUpstream));
  upstreams.forEach((u, i) => {
    const y = 4 + i * row;
    const cache = (w - left - 70) * u.bytesFromCache / max;
    const fetched = (w - left - 70) * u.bytesFromUpstream / max;
    svg.appendChild(el('svg:text', {x: 0, y: y + 14}, u.name.length > 18 ? u.name.slice(0, 17) + '…' : u.name));
    svg.appendChild(el('svg:rect', {class: 'cache', x: left, y: y, width: cache.toFixed(1), height: row - 8, 'data-upstream': u.name, 'data-bytes': u.bytesFromCache}));
    svg.appendChild(el('svg:rect', {class: 'upstream', x: (left + cache).toFixed(1), y: y, width: fetched.toFixed(1), height: row - 8, 'data-upstream': u.name, 'data-bytes': u.bytesFromUpstream}));
    svg.appendChild(el('svg:text', {x: left + cache + fetched + 4, y: y + 12}, bytes(u.bytesFromCache + u.bytesFromUpstream)));
  });
}

function drawTopImages(images) {
  const svg = $('top-images');
  clear(svg);
  const row = 18, left = 260, w = 480;
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + Math.max(24, images.length * row + 6));
  if (images.length === 0) {
    svg.appendChild(el('svg:text', {x: 0, y: 14}, 'no images pulled through the mirror yet'));
    return;
  }
  const max = Math.max(1, ...images.map(i => i.manifestRequests));
  images.forEach((image, i) => {
    const y = 3 + i * row;
    const name = image.image.length > 44 ? '…' + image.image.slice(-43) : image.image;
    svg.appendChild(el('svg:text', {x: 0, y: y + 11}, name));
    svg.appendChild(el('svg:rect', {class: 'bar', x: left, y: y, width: ((w - left - 40) * image.manifestRequests / max).toFixed(1), height: row - 6, 'data-image': image.image}));
    svg.appendChild(el('svg:text', {x: left + (w - left - 40) * image.manifestRequests / max + 4, y: y + 11}, String(image.manifestRequests)));
  });
}

function drawStore(store) {
  const svg = $('store-chart');
  clear(svg);
  const w = 480;
  const full = Math.max(store.budgetBytes, store.usedBytes, 1);
  svg.appendChild(el('svg:rect', {class: 'axis', x: 0, y: 4, width: w, height: 18, fill: 'none'}));
  svg.appendChild(el('svg:rect', {class: store.budgetBytes > 0 && store.usedBytes > 0.9 * store.budgetBytes ? 'failed' : 'cache',
    x: 0, y: 4, width: (w * store.usedBytes / full).toFixed(1), height: 18}));
  if (store.budgetBytes > 0) {
    svg.appendChild(el('svg:rect', {class: 'budget', x: 0, y: 2, width: (w * store.budgetBytes / full - 1).toFixed(1), height: 22}));
  }
}

function drawDurations(recent) {
  const svg = $('durations-chart');
  clear(svg);
  const done = recent.filter(b => b.durationMillis !== null).slice(0, 30).reverse();
  const w = 480, h = 120, bottom = 14;
  if (done.length === 0) {
    svg.appendChild(el('svg:text', {x: 0, y: 20}, 'no builds yet'));
    return;
  }
  const max = Math.max(1, ...done.map(b => b.durationMillis));
  const bar = Math.min(24, (w - 40) / done.length);
  svg.appendChild(el('svg:text', {x: 0, y: 10}, duration(max)));
  done.forEach((b, i) => {
    const height = Math.max(1, (h - bottom - 14) * b.durationMillis / max);
    const r = el('svg:rect', {class: b.state === 'failed' ? 'failed' : b.state === 'succeeded' ? 'cache' : 'upstream',
      x: 40 + i * bar, y: h - bottom - height, width: Math.max(1, bar - 3), height: height, 'data-build': b.id});
    r.appendChild(el('svg:title', {}, b.id + ': ' + duration(b.durationMillis) + ' (' + b.state + ')'));
    svg.appendChild(r);
  });
  svg.appendChild(el('svg:text', {x: 40, y: h - 2}, 'build duration, oldest to newest'));
}

function drawUpstreams(upstreams) {
  const body = $('upstreams').tBodies[0];
  clear(body);
  for (const u of upstreams) {
    const errors = Object.entries(u.errors).map(([code, n]) => code + ' ' + n).join(', ') || '0';
    const tr = el('tr', {'data-upstream': u.name});
    tr.appendChild(el('td', {}, u.name));
    tr.appendChild(el('td', {'data-field': 'bytesFromCache', 'data-value': u.bytesFromCache}, bytes(u.bytesFromCache) + ' (' + u.hits + ' req)'));
    tr.appendChild(el('td', {'data-field': 'bytesFromUpstream', 'data-value': u.bytesFromUpstream}, bytes(u.bytesFromUpstream) + ' (' + u.misses + ' req)'));
    tr.appendChild(el('td', {'data-field': 'coalesced', 'data-value': u.coalesced}, String(u.coalesced)));
    tr.appendChild(el('td', {'data-field': 'staleServed', 'data-value': u.staleServed}, String(u.staleServed)));
    tr.appendChild(el('td', {'data-field': 'upstreamRequests', 'data-value': u.upstreamRequests}, String(u.upstreamRequests)));
    tr.appendChild(el('td', {'data-field': 'errors'}, errors));
    body.appendChild(tr);
  }
}

function drawBuilds(builds) {
  number('builds-queued', builds.queued);
  number('builds-running', builds.running);
  const steps = builds.cachedSteps.hit + builds.cachedSteps.miss;
  number('cache-hits', builds.cachedSteps.hit, steps === 0 ? '–' : builds.cachedSteps.hit + ' of ' + steps);
  number('not-uploaded', builds.bytesNotUploaded, bytes(builds.bytesNotUploaded));
  drawDurations(builds.recent);
  const body = $('recent').tBodies[0];
  clear(body);
  for (const b of builds.recent) {
    const tr = el('tr', {class: 'build' + (following && following.id === b.id ? ' selected' : ''), 'data-build': b.id, 'data-state': b.state});
    tr.appendChild(el('td', {}, b.id));
    const state = el('td');
    state.appendChild(el('span', {class: 'state ' + b.state}, b.state));
    tr.appendChild(state);
    tr.appendChild(el('td', {}, b.queuePosition === null ? '' : '#' + b.queuePosition));
    tr.appendChild(el('td', {}, duration(b.durationMillis)));
    tr.appendChild(el('td', {}, b.steps + ' (' + b.cachedSteps + ')'));
    tr.appendChild(el('td', {}, bytes(b.bytesNotUploaded)));
    tr.appendChild(el('td', {}, b.destinations.join(', ')));
    tr.addEventListener('click', () => follow(b.id));
    body.appendChild(tr);
  }
}

/** Follows one build's log: the build API's text/event-stream, one event per line, then 'end'. */
function follow(id) {
  if (following) { following.source.close(); }
  $('log-panel').hidden = false;
  $('log-build').textContent = id;
  $('log-state').textContent = 'following…';
  $('log-state').className = 'state running';
  const log = $('log');
  log.textContent = '';
  const source = new EventSource('/api/v1/builds/' + encodeURIComponent(id) + '/log');
  following = {id: id, source: source};
  source.onmessage = event => {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.appendChild(document.createTextNode(event.data + '\n'));
    if (atBottom) { log.scrollTop = log.scrollHeight; }
  };
  source.addEventListener('end', event => {
    source.close(); // otherwise EventSource reconnects and replays the log
    const end = JSON.parse(event.data);
    $('log-state').textContent = end.state;
    $('log-state').className = 'state ' + end.state;
    $('log-panel').dataset.ended = end.state;
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) { $('log-state').textContent = 'log unavailable'; }
  };
  for (const row of document.querySelectorAll('#recent tr.build')) {
    row.classList.toggle('selected', row.dataset.build === id);
  }
}

function draw(summary) {
  const upstreams = summary.mirror.upstreams;
  const hits = sum(upstreams, 'hits');
  const misses = sum(upstreams, 'misses');
  number('hit-ratio', hits + misses === 0 ? '' : (hits / (hits + misses)).toFixed(4),
    hits + misses === 0 ? '–' : Math.round(100 * hits / (hits + misses)) + '%');
  number('bytes-from-cache', sum(upstreams, 'bytesFromCache'), bytes(sum(upstreams, 'bytesFromCache')));
  number('bytes-from-upstream', sum(upstreams, 'bytesFromUpstream'), bytes(sum(upstreams, 'bytesFromUpstream')));
  number('stale-served', sum(upstreams, 'staleServed'));
  number('upstream-errors', upstreams.reduce((a, u) => a + Object.values(u.errors).reduce((x, y) => x + y, 0), 0));
  drawHitRatio(summary.mirror.history);
  drawBytes(upstreams);
  drawUpstreams(upstreams);
  drawTopImages(summary.mirror.topImages);

  const store = summary.store;
  number('store-used', store.usedBytes, bytes(store.usedBytes));
  number('store-budget', store.budgetBytes, store.budgetBytes > 0 ? bytes(store.budgetBytes) : 'unlimited');
  number('store-blobs', store.blobs);
  $('last-gc').textContent = store.lastGc === null ? 'not yet'
    : new Date(store.lastGc.at).toLocaleString() + ': freed ' + bytes(store.lastGc.bytesRemoved) + ' in '
      + store.lastGc.blobsRemoved + ' blobs (' + duration(store.lastGc.durationMillis) + ')';
  drawStore(store);
  drawBuilds(summary.builds);
  $('status').textContent = 'updated ' + new Date(summary.generatedAt).toLocaleTimeString();
  document.body.dataset.generatedAt = summary.generatedAt;
}

async function refresh() {
  try {
    const response = await fetch('/api/v1/summary', {headers: {Accept: 'application/json'}, cache: 'no-store'});
    if (!response.ok) {
      $('status').textContent = 'the gateway answered ' + response.status;
    } else {
      draw(await response.json());
    }
  } catch (e) {
    $('status').textContent = 'the gateway is unreachable';
  }
  setTimeout(refresh, REFRESH_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  const wanted = new URLSearchParams(location.search).get('build');
  if (wanted) { follow(wanted); }
  refresh();
});
