/* The KOC programme's charts, drawn with the vendored ECharts from the numbers the page carries in
   <script type="application/json"> blocks (the same numbers as the tables beside them), so no
   inline script is needed under the Content-Security-Policy.
   - [data-koc-chart="pyramid"]: creators per level, top level first, as a centred pyramid;
   - [data-koc-chart="monthly"]: posts (bars) and views (line) per month;
   - [data-koc-chart="movement"]: promotions and demotions per month;
   - [data-koc-chart="snapshots"]: a post's views and interactions at each reading. */
(function () {
  "use strict";
  var BRAND = "#c2410c", SOFT = "#f59e0b", MUTED = "#6b7385", BAD = "#b91c1c", OK = "#15803d";

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function pyramid(d) {
    var rows = d.pyramid.slice().reverse(); // ECharts draws categories bottom-up: base first
    var max = Math.max.apply(null, rows.map(function (r) { return r.value; }).concat([1]));
    return {
      animation: false,
      grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", show: false, max: max, min: -max },
      yAxis: { type: "category", data: rows.map(function (r) { return r.name; }), axisTick: { show: false },
               axisLine: { show: false } },
      tooltip: { trigger: "item", formatter: function (p) { return p.name + ": " + Math.abs(p.value); } },
      series: [
        { type: "bar", stack: "p", silent: true, itemStyle: { color: BRAND, opacity: 0.85 }, barCategoryGap: "12%",
          data: rows.map(function (r) { return -r.value / 2; }) },
        { type: "bar", stack: "p", itemStyle: { color: BRAND, opacity: 0.85 }, barCategoryGap: "12%",
          label: { show: true, position: "insideLeft", color: "#fff", fontWeight: 600,
                   formatter: function (p) { return rows[p.dataIndex].value; } },
          data: rows.map(function (r) { return r.value / 2; }) }
      ]
    };
  }

  function monthly(d) {
    return {
      animation: false,
      grid: { left: 8, right: 8, top: 30, bottom: 8, containLabel: true },
      legend: { top: 0, data: [d.labels.posts, d.labels.views] },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: d.months },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", splitLine: { show: false } }],
      series: [
        { name: d.labels.posts, type: "bar", data: d.posts, itemStyle: { color: BRAND } },
        { name: d.labels.views, type: "line", yAxisIndex: 1, data: d.views, itemStyle: { color: SOFT } }
      ]
    };
  }

  function movement(d) {
    return {
      animation: false,
      grid: { left: 8, right: 8, top: 30, bottom: 8, containLabel: true },
      legend: { top: 0, data: [d.labels.promoted, d.labels.demoted] },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: d.months },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: d.labels.promoted, type: "bar", data: d.promoted, itemStyle: { color: OK } },
        { name: d.labels.demoted, type: "bar", data: d.demoted, itemStyle: { color: BAD } }
      ]
    };
  }

  function snapshots(d) {
    return {
      animation: false,
      grid: { left: 8, right: 8, top: 30, bottom: 8, containLabel: true },
      legend: { top: 0, data: [d.labels.views, d.labels.interactions] },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: d.labels.at },
      yAxis: [{ type: "value" }, { type: "value", splitLine: { show: false } }],
      series: [
        { name: d.labels.views, type: "line", data: d.views, itemStyle: { color: BRAND } },
        { name: d.labels.interactions, type: "line", yAxisIndex: 1, data: d.interactions, itemStyle: { color: MUTED } }
      ]
    };
  }

  var BUILDERS = { pyramid: pyramid, monthly: monthly, movement: movement, snapshots: snapshots };

  function draw() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-koc-chart]").forEach(function (el) {
      var build = BUILDERS[el.dataset.kocChart];
      var d = data(el.dataset.source);
      if (!build || !d) return;
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(d));
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
