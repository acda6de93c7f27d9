// The hipflask status page: fills the table and the charts from /diagnostic (health+json) and
// /diagnostic/rates, again every data-refresh-seconds, in place. No library, no external asset.
"use strict";

(function () {
  const refresh = Number(document.body.dataset.refreshSeconds || 3) * 1000;

  function text(value) { return value === undefined || value === null ? "–" : String(value); }

  function duration(seconds) {
    if (typeof seconds !== "number") return "–";
    const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60);
    return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
  }

  function bytes(value) {
    if (typeof value !== "number") return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
    return `${value.toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  function cell(row, content, className) {
    const td = row.insertCell();
    if (className) td.className = className;
    if (content instanceof Node) td.append(content); else td.textContent = content;
    return td;
  }

  function renderTable(document_) {
    const body = document.querySelector("#services tbody");
    const rows = [];
    for (const [key, entries] of Object.entries(document_.checks)) {
      if (!key.endsWith(":status")) continue;
      const service = key.slice(0, -":status".length);
      const times = document_.checks[`${service}:responseTime`] || [];
      entries.forEach((entry, index) => {
        const row = document.createElement("tr");
        row.className = `row-${entry.status}`;
        row.dataset.service = service;
        row.dataset.status = entry.status;
        cell(row, service);
        cell(row, entry.componentId + (entry.address && entry.address !== entry.componentId ? ` (${entry.address})` : ""));
        const badge = document.createElement("span");
        badge.className = entry.status;
        badge.textContent = entry.status;
        const statusCell = cell(row, badge, "status");
        if (entry.output) {
          const output = document.createElement("span");
          output.className = "output";
          output.textContent = entry.output;
          statusCell.append(output);
        }
        const time = times[index];
        cell(row, time ? `${time.observedValue} ${time.observedUnit}` : "–", "number");
        cell(row, text(entry.version));
        cell(row, duration(entry.uptime_seconds), "number");
        cell(row, text(entry.restarts), "number");
        cell(row, bytes(entry.volume_free_bytes), "number");
        rows.push(row);
      });
    }
    body.replaceChildren(...rows);
    const overall = document.getElementById("overall");
    overall.textContent = document_.status;
    overall.className = `badge ${document_.status}`;
  }

  function chart(service, points) {
    let figure = document.getElementById(`chart-${service}`);
    if (!figure) {
      figure = document.createElement("figure");
      figure.id = `chart-${service}`;
      const caption = document.createElement("figcaption");
      figure.append(caption, document.createElement("canvas"));
      document.getElementById("charts").append(figure);
    }
    const values = points.map((p) => p.rates[service] || { requests: 0, errors: 0 });
    figure.dataset.points = values.length;
    const last = values[values.length - 1] || { requests: 0, errors: 0 };
    figure.querySelector("figcaption").textContent =
      `${service}: ${last.requests.toFixed(1)} req/s, ${last.errors.toFixed(1)} errors/s`;
    const canvas = figure.querySelector("canvas");
    const width = 260, height = 70, ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio; canvas.height = height * ratio;
    canvas.style.width = `${width}px`; canvas.style.height = `${height}px`;
    const context = canvas.getContext("2d");
    context.scale(ratio, ratio);
    context.clearRect(0, 0, width, height);
    const top = Math.max(1, ...values.map((v) => v.requests));
    context.strokeStyle = "#e3e3e3";
    context.beginPath(); context.moveTo(0, height - 1.5); context.lineTo(width, height - 1.5); context.stroke();
    for (const [field, colour] of [["requests", "#1565c0"], ["errors", "#c62828"]]) {
      context.beginPath();
      context.strokeStyle = colour;
      context.lineWidth = 1.5;
      values.forEach((v, i) => {
        const x = values.length > 1 ? i * (width - 2) / (values.length - 1) + 1 : width / 2;
        const y = height - 2 - (v[field] / top) * (height - 6);
        if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
        if (values.length === 1) context.arc(x, y, 1.5, 0, 2 * Math.PI);
      });
      context.stroke();
    }
  }

  function renderCharts(points) {
    const services = new Set();
    points.forEach((p) => Object.keys(p.rates).forEach((s) => services.add(s)));
    [...services].sort().forEach((service) => chart(service, points));
  }

  async function update() {
    const error = document.getElementById("error");
    try {
      const response = await fetch("/diagnostic", { headers: { Accept: "application/health+json" }, cache: "no-store" });
      renderTable(await response.json());
      document.getElementById("checked-at").textContent = new Date().toLocaleTimeString();
      error.hidden = true;
      const rates = await fetch("/diagnostic/rates", { headers: { Accept: "application/json" }, cache: "no-store" });
      if (rates.ok) renderCharts(await rates.json());
    } catch (problem) {
      error.textContent = `the diagnostic service did not answer: ${problem}`;
      error.hidden = false;
      document.getElementById("overall").className = "badge fail";
    } finally {
      setTimeout(update, refresh);
    }
  }

  update();
})();
