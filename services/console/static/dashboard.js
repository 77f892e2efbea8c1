// The dashboard's charts: Apache ECharts, drawn from the JSON the page embeds
// (<script type="application/json" id="dashboard-charts">), so the page needs no inline script
// and the numbers drawn are those of the tables beside them. Each chart element says it is done
// (data-rendered), which is what the browser tests wait for.
(function () {
  var source = document.getElementById("dashboard-charts");
  if (!source || !window.echarts) { return; }
  var charts = JSON.parse(source.textContent);
  // The console's palette (console.css): ink, accent, ok, soon, late; then ECharts' own.
  var colours = ["#0b5cad", "#17692d", "#8a5300", "#a4161a", "#4a5360", "#6e3fa3"];
  var rowHeight = 28;

  function percentLabel(value) { return value === null || value === undefined ? "—" : value + "%"; }

  function options(spec) {
    var horizontal = spec.kind === "hbar" || spec.kind === "stacked_hbar";
    var valueAxis = { type: "value" };
    if (spec.percent) {
      valueAxis.min = 0;
      valueAxis.max = 100;
      valueAxis.axisLabel = { formatter: "{value}%" };
    }
    var categoryAxis = { type: "category", data: spec.categories, inverse: horizontal };
    var series = spec.series.map(function (s, n) {
      var one = {
        name: s.name,
        type: spec.kind === "line" ? "line" : "bar",
        data: s.data,
        connectNulls: false,
        symbolSize: 8,
        label: { show: spec.kind !== "line", position: horizontal ? "right" : "top" },
      };
      if (spec.kind !== "line") { one.barMaxWidth = 40; }
      if (spec.kind === "stacked_hbar") {
        one.stack = "all";
        one.label = { show: true, position: "inside" };
      }
      // Done and not done read as such: contacted in the "on time" green, the rest in "late".
      if (spec.kind === "stacked_hbar") { one.itemStyle = { color: n === 0 ? "#17692d" : "#a4161a" }; }
      if (spec.percent) { one.label.formatter = function (p) { return percentLabel(p.value); }; }
      return one;
    });
    return {
      animation: false,
      color: colours,
      tooltip: {
        trigger: "axis",
        valueFormatter: spec.percent ? percentLabel : undefined,
      },
      legend: { show: spec.series.length > 1, top: 0 },
      grid: { left: 8, right: 48, top: spec.series.length > 1 ? 32 : 16, bottom: 8, containLabel: true },
      xAxis: horizontal ? valueAxis : categoryAxis,
      yAxis: horizontal ? categoryAxis : valueAxis,
      series: series,
    };
  }

  var drawn = [];
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var spec = charts[element.dataset.chart];
    if (!spec) { return; }
    var horizontal = spec.kind === "hbar" || spec.kind === "stacked_hbar";
    // A horizontal bar chart grows with its rows, so every name stays readable.
    element.style.height = (horizontal ? Math.max(160, 48 + rowHeight * spec.categories.length) : 320) + "px";
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(options(spec));
    element.dataset.rendered = "true";
    drawn.push(chart);
  });
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
})();
