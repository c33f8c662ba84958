// The one chart renderer of the UI and of report.html: line charts over time on uPlot
// (vendor/, MIT). A null value is a gap, never a zero.
(function () {
  "use strict";

  function fmt(v) {
    if (v == null || Number.isNaN(v)) return "—";
    const a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    return v.toPrecision(3);
  }

  // chart(parent, {title, height, yLabel, y2Label, series: [{label, stroke, scale, points, dash}]})
  // appends a chart and returns {update(data), destroy()}; data is [xs (unix seconds), ys...].
  function chart(parent, o) {
    const box = document.createElement("div");
    box.className = "chart";
    if (o.title) {
      const h = document.createElement("h3");
      h.textContent = o.title;
      box.appendChild(h);
    }
    parent.appendChild(box);
    const height = o.height || 220;
    const series = [{}].concat(o.series.map((s) => ({
      label: s.label,
      stroke: s.stroke,
      width: s.width || 1.6,
      dash: s.dash,
      scale: s.scale || "y",
      spanGaps: false,
      paths: s.points ? () => null : undefined,
      points: s.points ? { show: true, size: 8, fill: s.stroke, stroke: s.stroke } : { show: false },
      value: (u, v) => fmt(v),
    })));
    const axes = [{}, { scale: "y", label: o.yLabel || "", size: 64, values: (u, vs) => vs.map(fmt) }];
    const scales = { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), (max ?? 1) > 0 ? max * 1.1 : 1] } };
    if (o.y2Label) {
      axes.push({ scale: "y2", side: 1, label: o.y2Label, grid: { show: false }, size: 64, values: (u, vs) => vs.map(fmt) });
      scales.y2 = { range: (u, min, max) => [0, (max ?? 1) > 0 ? max * 1.1 : 1] };
    }
    const width = () => Math.max(240, box.clientWidth - 16);
    const empty = [[]].concat(o.series.map(() => []));
    const u = new uPlot({ width: width(), height, series, axes, scales, legend: { live: true } }, empty, box);
    let last = 0;
    const ro = new ResizeObserver(() => {
      const w = width();
      if (w !== last) { last = w; u.setSize({ width: w, height }); }
    });
    ro.observe(box);
    return {
      update(data) { u.setData(data); },
      destroy() { ro.disconnect(); u.destroy(); box.remove(); },
      element: box,
      plot: u,
    };
  }

  const palette = ["#1f6feb", "#d7191c", "#1a9641", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

  window.LT = { chart, fmt, palette };
})();
