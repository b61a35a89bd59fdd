/* Supervision pages: htmx error display and the live map (Leaflet, vendored; no CDN, works offline). */
(function () {
  'use strict';

  // htmx: show our 4xx error fragments (the app answers htmx requests with <div class="error">…</div>).
  document.addEventListener('htmx:beforeSwap', function (e) {
    var status = e.detail.xhr.status;
    if (status >= 400 && status < 500) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
      e.detail.target = document.getElementById('sup-error') || e.detail.target;
    }
  });

  // The Chinese of verdict and source codes: embedded by the page from backend/vocabulary.py (one copy).
  var labels = null;
  function label(kind, code) {
    if (labels === null) {
      var el = document.getElementById('sup-labels');
      try { labels = el ? JSON.parse(el.textContent) : {}; } catch (e) { labels = {}; }
    }
    return (labels[kind] || {})[code] || code;
  }

  // Text going into HTML a library builds (Leaflet tooltips): vendor names and serials are user input.
  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function text(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (value !== undefined) el.textContent = value;
    return el;
  }

  function startMap() {
    var el = document.getElementById('sup-map');
    if (!el || typeof L === 'undefined') return;
    var tileUrl = el.dataset.tileUrl || '';
    var map = L.map(el, { attributionControl: !!tileUrl, zoomSnap: 0.5 });
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: '底图' }).addTo(map);
    } else {
      el.classList.add('no-tiles'); // fences and markers on a plain background: no internet needed
    }
    map.setView([30, 114], 5);
    L.control.scale({ imperial: false, metric: true, maxWidth: 160 }).addTo(map); // distances without a base map

    var fenceLayer = L.featureGroup().addTo(map);
    var projectLayer = L.featureGroup().addTo(map);
    var labelLayer = L.layerGroup().addTo(map); // project names, always shown (no base map to read them from)
    var terminalLayer = L.featureGroup().addTo(map);
    var punchLayer = L.featureGroup().addTo(map);
    var projects = {};
    var fitted = false;
    var statusEl = document.getElementById('sup-live-status');
    var feed = document.getElementById('sup-feed');
    var openProject = null;

    function projectTooltip(p) {
      var t = p.today || {};
      return esc(p.name + '（' + p.status_label + '）') + '<br>今日考勤 ' + (t.people || 0) + ' 人 · 超时 ' + (t.late || 0) +
        ' · 失败 ' + (t.rejected || 0);
    }

    function showProject(id) {
      openProject = id;
      if (window.htmx) {
        window.htmx.ajax('GET', el.dataset.today + id + '/today', { target: '#sup-panel', swap: 'innerHTML' });
      }
    }

    function draw(data) {
      fenceLayer.clearLayers();
      projectLayer.clearLayers();
      labelLayer.clearLayers();
      terminalLayer.clearLayers();
      projects = {};
      // Circles and corridors come with their area as properties.outline (fence store): draw that.
      var fences = (data.fences.features || []).map(function (f) {
        var props = f.properties || {};
        return props.outline ? { type: 'Feature', properties: props, geometry: props.outline } : f;
      });
      var fenceStyle = { className: 'smz-fence', color: '#0b6bcb', weight: 2, fillOpacity: 0.12 };
      L.geoJSON({ type: 'FeatureCollection', features: fences }, {
        style: function () { return fenceStyle; },
        pointToLayer: function (f, latlng) {
          var r = (f.properties && f.properties.radius_m) || 30;
          return L.circle(latlng, L.extend({ radius: r }, fenceStyle));
        },
        onEachFeature: function (f, layer) {
          layer.bindTooltip(esc((f.properties && f.properties.name) || '电子围栏'));
        }
      }).eachLayer(function (l) { fenceLayer.addLayer(l); });
      var unlocated = [];
      data.projects.forEach(function (p) {
        projects[p.id] = p;
        if (p.lon === null || p.lat === null) { unlocated.push(p.name); return; }
        var m = L.circleMarker([p.lat, p.lon], { radius: 9, className: 'smz-project s-' + p.status, weight: 2 });
        m.bindTooltip(projectTooltip(p));
        m.on('click', function () { showProject(p.id); });
        m.addTo(projectLayer);
        p.marker = m;
        L.marker([p.lat, p.lon], {
          icon: L.divIcon({ className: 'smz-label', html: '<span>' + esc(p.name) + '</span>', iconSize: null, iconAnchor: [-12, 9] }),
          interactive: false, keyboard: false
        }).addTo(labelLayer);
      });
      var perProject = {};
      data.terminals.forEach(function (t) {
        var p = projects[t.project];
        if (!p || p.lon === null) return;
        var i = perProject[t.project] = (perProject[t.project] || 0) + 1;
        // Terminals carry no coordinates: they are drawn around their project's point.
        var a = (i - 1) * Math.PI / 3, d = 0.00035;
        var m = L.circleMarker([p.lat + d * Math.sin(a), p.lon + d * Math.cos(a)],
          { radius: 5, className: 'smz-terminal ' + t.state, weight: 1 });
        m.bindTooltip(esc('考勤设备 ' + t.serial + '（' + (t.vendor || '') + '）：' + t.state_label) +
          (t.last_seen_local ? '<br>最后在线 ' + esc(t.last_seen_local) : ''));
        m.on('click', function () { showProject(t.project); });
        m.addTo(terminalLayer);
      });
      var box = document.getElementById('sup-unlocated');
      if (box) box.textContent = unlocated.length ? '未定位项目：' + unlocated.join('、') : '';
      if (!fitted) {
        // the view fitted to the projects (and fences) the user may see: their district
        var b = L.featureGroup([fenceLayer, projectLayer]).getBounds();
        if (b.isValid()) { map.fitBounds(b.pad(0.25), { maxZoom: 16 }); fitted = true; }
      }
    }

    var seeded = false;
    function load() {
      return fetch(el.dataset.api, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
        .then(function (data) {
          draw(data);
          if (!seeded) { // the feed starts with the day's latest punches (counters already include them)
            seeded = true;
            (data.recent || []).forEach(function (ev) { addPunch(ev, true); });
          }
          el.dataset.loaded = '1';
        })
        .catch(function (err) { if (statusEl) statusEl.textContent = '地图数据加载失败：' + err.message; });
    }

    // HH:MM:SS of a stored (UTC, ISO) time in the project's zone — the panel's and the punch pages' clock.
    function clock(iso, p) {
      var at = new Date(iso);
      if (isNaN(at)) return '';
      return at.toLocaleTimeString('zh-CN', { hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit',
        timeZone: (p && p.timezone) || 'Asia/Shanghai' });
    }

    // The verdict's label, then the reasons (rejected) or flags (accepted for review) — each once, in Chinese.
    function verdictText(ev) {
      var codes = (ev.reasons || []).concat(ev.flags || []);
      var seen = {}, parts = [];
      codes.forEach(function (c) { var t = label('Reason', c); if (!seen[t]) { seen[t] = true; parts.push(t); } });
      var head = label('PunchVerdict', ev.verdict);
      return parts.length ? head + '：' + parts.join('；') : head;
    }

    var shown = {};
    function addPunch(ev, initial) {
      if (shown[ev.id]) return; // already in the feed (loaded, then pushed)
      shown[ev.id] = true;
      var p = projects[ev.project_id];
      var latlng = null;
      if (ev.lat !== null && ev.lat !== undefined && ev.lon !== null && ev.lon !== undefined) latlng = [ev.lat, ev.lon];
      else if (p && p.lat !== null) latlng = [p.lat + (Math.random() - 0.5) * 0.0004, p.lon + (Math.random() - 0.5) * 0.0004];
      if (latlng) {
        var m = L.circleMarker(latlng, { radius: 6, className: 'smz-punch ' + ev.verdict, weight: 1 });
        m.bindTooltip(esc((ev.name || '（未识别）') + ' · ' + label('PunchVerdict', ev.verdict)));
        m.addTo(punchLayer);
        if (punchLayer.getLayers().length > 300) punchLayer.removeLayer(punchLayer.getLayers()[0]);
      }
      if (p && !initial) {
        p.today = p.today || { people: 0, late: 0, rejected: 0, punches: 0 };
        p.today.punches += 1;
        if (ev.verdict === 'rejected') p.today.rejected += 1;
        if ((ev.flags || []).indexOf('late_upload') >= 0) p.today.late += 1;
        if (p.marker) p.marker.setTooltipContent(projectTooltip(p));
      }
      if (feed) {
        // One line per punch: time (the project's zone) · name · project · source · verdict (reasons, if any).
        var li = text('li', 'punch ' + ev.verdict);
        li.dataset.punchId = ev.id;
        li.tabIndex = 0;
        li.appendChild(text('span', 'time', clock(ev.captured_at, p)));
        li.appendChild(document.createTextNode(' '));
        li.appendChild(text('b', 'name', ev.name || '（未识别）'));
        li.appendChild(document.createTextNode(' · '));
        li.appendChild(text('span', 'where', p ? p.name : '项目 ' + ev.project_id));
        li.appendChild(document.createTextNode(' · '));
        li.appendChild(text('span', 'source', label('Source', ev.source)));
        li.appendChild(document.createTextNode(' · '));
        li.appendChild(text('span', 'verdict', verdictText(ev)));
        li.addEventListener('click', function () { showProject(ev.project_id); });
        li.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); showProject(ev.project_id); } });
        feed.insertBefore(li, feed.firstChild);
        while (feed.children.length > 50) feed.removeChild(feed.lastChild);
        var empty = document.getElementById('sup-feed-empty');
        if (empty) empty.hidden = true;
      }
      if (!initial && openProject === ev.project_id) showProject(ev.project_id);
    }

    function connect() {
      if (!window.EventSource) { if (statusEl) statusEl.textContent = '浏览器不支持实时推送，请刷新页面查看最新数据。'; return; }
      var source = new EventSource(el.dataset.live, { withCredentials: true });
      source.addEventListener('hello', function () {
        if (statusEl) statusEl.textContent = '实时连接正常：打卡将自动出现在地图上。';
        el.dataset.liveReady = '1';
      });
      source.addEventListener('punch', function (e) {
        try { addPunch(JSON.parse(e.data)); } catch (err) { /* a malformed event is skipped */ }
      });
      source.onerror = function () { if (statusEl) statusEl.textContent = '实时连接中断，正在重连…'; };
    }

    load().then(connect);
    setInterval(load, 60000); // terminal online state and today's counters
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', startMap);
  else startMap();
})();
