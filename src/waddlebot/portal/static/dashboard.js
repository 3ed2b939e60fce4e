// The dashboard's live activity: the hour's figures from the page's Server-Sent Events
// (data-live-url), drawn with uPlot and written into the totals and the table, so the text
// says what the chart shows. Without script the page shows the figures it was served with.
"use strict";
(function () {
  var TABLE_MINUTES = 10;
  var SERIES = [
    { label: "Messages", stroke: "#1f5fbf" },
    { label: "Commands", stroke: "#1e6b3a" },
    { label: "Errors", stroke: "#a4262c" },
  ];

  function chartWidth(box) {
    return Math.max(240, box.clientWidth);
  }

  function makeChart(box) {
    if (typeof uPlot === "undefined") {
      return null;
    }
    var series = [{}].concat(SERIES.map(function (s) {
      return { label: s.label, stroke: s.stroke, width: 2, points: { show: false } };
    }));
    var options = {
      width: chartWidth(box),
      height: 220,
      series: series,
      // the table beside it is in UTC: the chart's axis too
      tzDate: function (seconds) { return uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"); },
      axes: [{}, { label: "per minute" }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(5, max)]; } } },
    };
    var chart = new uPlot(options, [[], [], [], []], box);
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () {
        if (chart.width !== chartWidth(box)) {
          chart.setSize({ width: chartWidth(box), height: 220 });
        }
      }).observe(box);
    }
    return chart;
  }

  function minuteText(seconds) {
    var at = new Date(seconds * 1000);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(at.getUTCHours()) + ":" + two(at.getUTCMinutes());
  }

  function fillTable(body, figures) {
    var rows = [];
    var count = figures.at.length;
    for (var i = count - 1; i >= Math.max(0, count - TABLE_MINUTES); i--) {
      var row = document.createElement("tr");
      [minuteText(figures.at[i]), figures.messages[i], figures.commands[i], figures.errors[i]]
        .forEach(function (value) {
          var cell = document.createElement("td");
          cell.textContent = String(value);
          row.appendChild(cell);
        });
      rows.push(row);
    }
    body.replaceChildren.apply(body, rows);
  }

  function show(figures, chart, box) {
    ["messages", "commands", "errors"].forEach(function (kind) {
      document.getElementById("total-" + kind).textContent = String(figures.totals[kind]);
    });
    fillTable(document.querySelector("#activity-table tbody"), figures);
    if (chart) {
      chart.setData([figures.at, figures.messages, figures.commands, figures.errors]);
    }
    // what the chart holds, for tests and the curious: minutes drawn and messages in them
    box.dataset.points = String(figures.at.length);
    box.dataset.messages = String(figures.totals.messages);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var totals = document.getElementById("activity-totals");
    var box = document.getElementById("activity-chart");
    if (!totals || !box || typeof EventSource === "undefined") {
      return;
    }
    var chart = makeChart(box);
    var state = document.getElementById("activity-state");
    var source = new EventSource(totals.dataset.liveUrl);
    source.addEventListener("minutes", function (event) {
      show(JSON.parse(event.data), chart, box);
      state.textContent = "Live: updates by themselves while this page is open.";
    });
    source.addEventListener("error", function () {
      state.textContent = "Reconnecting…";
    });
  });
})();
