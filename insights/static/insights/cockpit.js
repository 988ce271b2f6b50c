/* The cockpit's charts, drawn with the vendored ECharts from the numbers the page carries in a
   <script type="application/json"> block (no inline script under the Content-Security-Policy).
   Every point carries the member list URL of the members it counts: a click opens it. */
(function () {
  "use strict";
  var COLOURS = ["#c2410c", "#2563eb", "#15803d", "#9333ea", "#f59e0b", "#0891b2", "#be123c", "#6b7385"];

  var DAY = /^\d{4}-(\d{2}-\d{2})$/;

  function axisLabel(c, width) {
    // Days read as MM-DD (the year is in the period above); a bar's name wraps under its bar, every
    // one shown, rather than every other one hidden on a phone.
    if (c.categories.length && DAY.test(c.categories[0])) {
      return { formatter: function (v) { var m = DAY.exec(v); return m ? m[1] : v; }, hideOverlap: true };
    }
    if (c.kind === "bar" && c.categories.length) {
      return { interval: 0, width: Math.max(40, Math.floor((width - 48) / c.categories.length) - 6),
               overflow: "break" };
    }
    return {};
  }

  function option(c, width) {
    return {
      animation: false,
      color: COLOURS,
      grid: { left: 16, right: 16, top: c.series.length > 1 ? 48 : 16, bottom: 8, containLabel: true },
      legend: c.series.length > 1 ? { top: 0, type: "scroll" } : undefined,
      tooltip: { trigger: c.kind === "line" ? "axis" : "item" },
      xAxis: { type: "category", data: c.categories, axisLabel: axisLabel(c, width) },
      yAxis: { type: "value", minInterval: 1 },
      series: c.series.map(function (s) {
        return { name: s.name, type: c.kind, data: s.data.map(function (p) { return { value: p.value, url: p.url }; }),
                 symbolSize: 8, cursor: "pointer" };
      })
    };
  }

  function draw() {
    var el = document.getElementById("cockpit-charts");
    if (!window.echarts || !el) return;
    var charts = JSON.parse(el.textContent);
    document.querySelectorAll("[data-cockpit-chart]").forEach(function (box) {
      var c = charts[box.dataset.cockpitChart];
      if (!c) return;
      var chart = window.echarts.init(box, null, { renderer: "canvas" });
      chart.setOption(option(c, box.clientWidth));
      chart.on("click", function (p) {
        if (p.data && p.data.url) window.location.assign(p.data.url);
      });
      box.dataset.drawn = "1";
      window.addEventListener("resize", function () {
        chart.setOption({ xAxis: { axisLabel: axisLabel(c, box.clientWidth) } });
        chart.resize();
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
