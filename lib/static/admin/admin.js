/*
 * The author's analytics page at /admin, in one file with no dependencies.
 *
 * It asks for ADMIN_API_KEY, keeps it in this tab's sessionStorage only, and
 * sends it with every call to GET /v1/admin/analytics, which checks it each
 * time. The charts are SVG built node by node; every text from the server
 * (questions, answers, comments, titles) goes into text nodes, never parsed as
 * markup, and a link is kept only when it resolves to http(s).
 */
(function () {
  "use strict";

  var KEY_STORAGE = "bookbot.adminKey";
  var SVG = "http://www.w3.org/2000/svg";
  var PERIODS = ["day", "week", "month"];
  var OUTCOMES = [
    ["answered", "Answered by the model"],
    ["extractive", "Answered extractively"],
    ["refused", "Refused"],
  ];
  var REFUSALS = { no_hits: "nothing found", low_score: "nothing close enough", out_of_scope: "out of scope" };
  var CHART = { width: 600, height: 200, left: 50, right: 10, top: 18, bottom: 24 };
  var LABELLED_DAYS = 7; // up to this many days, each bar of tokens says its cost above it

  var page = {
    form: document.getElementById("key-form"),
    key: document.getElementById("key"),
    message: document.getElementById("message"),
    status: document.getElementById("status"),
    controls: document.getElementById("controls"),
    dashboard: document.getElementById("dashboard"),
  };
  var params = new URLSearchParams(window.location.search);
  var period = PERIODS.indexOf(params.get("period")) >= 0 ? params.get("period") : "week";
  var latest = 0; // the number of the latest request: an older answer arriving late is dropped
  var queriesHidden = false;

  // ---------------------------------------------------------------- helpers

  function el(tag, attributes, children) {
    return fill(document.createElement(tag), attributes, children);
  }

  function svg(tag, attributes, children) {
    return fill(document.createElementNS(SVG, tag), attributes, children);
  }

  function fill(node, attributes, children) {
    var names = Object.keys(attributes || {});
    for (var i = 0; i < names.length; i++) {
      var value = attributes[names[i]];
      if (value === null || value === undefined || value === false) continue;
      if (names[i] === "text") node.textContent = value;
      else node.setAttribute(names[i], value === true ? "" : String(value));
    }
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function integer(n) {
    return Number(n || 0).toLocaleString("en-US");
  }

  function percent(share) {
    return share === null || share === undefined ? "–" : Math.round(share * 1000) / 10 + "%";
  }

  function milliseconds(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1000) return Math.round(ms) + " ms";
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  }

  function dollars(amount) {
    if (amount === null || amount === undefined) return "unknown";
    if (amount === 0) return "$0";
    return "$" + (amount < 0.01 ? String(Number(amount.toPrecision(2))) : amount.toFixed(2));
  }

  function shortDay(day) {
    var date = new Date(day + "T00:00:00Z");
    return date.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
  }

  function longDay(iso) {
    var date = new Date(iso);
    return date.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  }

  function moment(iso) {
    return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", " UTC") : "";
  }

  function reasonName(reason) {
    return REFUSALS[reason] ? reason + " (" + REFUSALS[reason] + ")" : reason;
  }

  /** The URL as a string when it is http(s), resolved against base; null for anything else (javascript:, data:, ...). */
  function safeUrl(href, base) {
    if (typeof href !== "string" || !href.trim()) return null;
    try {
      var url = new URL(href.trim(), base);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function bookBase() {
    var given = params.get("book") || document.documentElement.getAttribute("data-book-url");
    // None: absolute source links open the book; a path (no site address was known) stays text.
    return safeUrl(given || "", window.location.href) || undefined;
  }

  // ------------------------------------------------------------- the key

  function storedKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE);
    } catch (error) {
      return null;
    }
  }

  function keepKey(key) {
    try {
      window.sessionStorage.setItem(KEY_STORAGE, key);
    } catch (error) {
      /* a tab that can't store it asks again next time */
    }
  }

  function forgetKey() {
    try {
      window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (error) {
      /* nothing was kept */
    }
  }

  function askForKey(problem) {
    latest++;
    page.dashboard.hidden = true;
    page.dashboard.replaceChildren();
    page.controls.hidden = true;
    page.status.hidden = true;
    page.form.hidden = false;
    page.message.hidden = !problem;
    page.message.textContent = problem || "";
    page.key.value = "";
    page.key.focus();
  }

  function say(text, isProblem) {
    page.status.hidden = !text;
    page.status.textContent = text || "";
    page.status.classList.toggle("problem", Boolean(isProblem));
  }

  // ------------------------------------------------------------ loading

  function load() {
    var key = storedKey();
    if (!key) {
      askForKey(null);
      return;
    }
    var number = ++latest;
    page.form.hidden = true;
    page.controls.hidden = false;
    markPeriod();
    say("Loading…");
    fetch("v1/admin/analytics?period=" + encodeURIComponent(period), {
      headers: { Authorization: "Bearer " + key, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          return { response: response, body: body };
        });
      })
      .then(function (result) {
        if (number !== latest) return;
        var status = result.response.status;
        if (status === 200 && result.body) {
          say(null);
          draw(result.body);
        } else if (status === 401) {
          forgetKey();
          askForKey("The server refused that key: it is not its ADMIN_API_KEY.");
        } else if (status === 403) {
          forgetKey();
          askForKey("The analytics are switched off on this server: it has no ADMIN_API_KEY. Set one and restart it.");
        } else {
          var error = result.body && result.body.error ? result.body.error.message : "HTTP " + status;
          var wait = result.response.headers.get("Retry-After");
          say("The figures could not be loaded: " + error + (wait ? " (try again in " + wait + " s)" : ""), true);
        }
      })
      .catch(function () {
        if (number === latest) say("The server could not be reached. Check the connection and press Refresh.", true);
      });
  }

  function markPeriod() {
    Array.prototype.forEach.call(page.controls.querySelectorAll("[data-period]"), function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-period") === period));
    });
  }

  function choose(chosen) {
    period = chosen;
    params.set("period", chosen);
    window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
    load();
  }

  // ------------------------------------------------------------ drawing

  function draw(data) {
    var days = data.by_day;
    var totals = data.totals;
    queriesHidden = data.queries_hidden;
    var last = new Date(Date.parse(data.until) - 1).toISOString();
    var range = days.length === 1 ? longDay(data.since) : longDay(data.since) + " – " + longDay(last);
    var parts = [
      el("p", { class: "range", text: range + " · UTC days · from the answer log and the readers' ratings" }),
      data.queries_hidden
        ? el("p", { class: "note", text: "Questions are hidden: the server runs with STORE_QUERIES=false. The counts are all here." })
        : null,
      stats(data),
      panel("questions", "Questions per day", [
        barChart("questions", days, OUTCOMES.map(function (o) { return { key: o[0], name: o[1] }; }), integer),
        legend(OUTCOMES.map(function (o) { return [o[0], o[1], integer(totals[o[0]]) + " · " + percent(totals.shares[o[0]])]; })),
      ]),
      panel("outcomes", "How questions ended", [shareBar(totals), refusalList(totals)]),
      panel("votes", "Thumbs up and down per day", [votesChart(days), reasonBars(totals)]),
      panel("latency", "Latency per day", [
        lineChart("latency", days, [{ key: "p50", name: "p50" }, { key: "p95", name: "p95" }], milliseconds),
        legend([["p50", "p50 (median)", milliseconds(totals.latency_ms.p50)], ["p95", "p95", milliseconds(totals.latency_ms.p95)]]),
        el("p", { class: "fine", text: "Nearest rank: the value at rank ⌈p/100 × n⌉ of the day's sorted latencies, from the question to the whole answer." }),
      ]),
      panel("tokens", "Model tokens and their cost per day", [
        barChart("tokens", days, [{ key: "prompt_tokens", name: "Prompt" }, { key: "completion_tokens", name: "Completion" }], integer, costOf),
        legend([
          ["prompt_tokens", "Prompt", integer(totals.prompt_tokens)],
          ["completion_tokens", "Completion", integer(totals.completion_tokens)],
        ]),
      ]),
      panel("models", "Cost by model", [
        modelTable(data.models),
        el("p", { class: "fine", text: "Estimated at today's MODEL_PRICES, in USD per million tokens in / out. " +
          "A model without a price makes the cost unknown, never zero." }),
      ]),
      panel("asked", "Most asked questions", [askedTable(data.most_asked)]),
      panel("worst", "Most down-voted answers", [worstAnswers(data.most_down_voted)]),
      panel("gaps", "Questions refused most: the gaps in the book", [refusedTable(data.most_refused)]),
    ];
    page.dashboard.replaceChildren.apply(page.dashboard, parts.filter(Boolean));
    page.dashboard.hidden = false;
  }

  function costOf(day, short) {
    return (short ? "" : "cost ") + dollars(day.cost_usd);
  }

  function panel(name, title, children) {
    return el("section", { class: "panel panel-" + name, "data-panel": name }, [el("h2", { text: title })].concat(children));
  }

  function stat(name, label, value, detail) {
    return el("div", { class: "stat", "data-stat": name }, [
      el("span", { class: "label", text: label }),
      el("span", { class: "value", text: value }),
      detail ? el("span", { class: "sub", text: detail }) : null,
    ]);
  }

  function stats(data) {
    var totals = data.totals;
    var unpriced = data.models.filter(function (m) { return m.cost_usd === null; }).map(function (m) { return m.model || "no model"; });
    return el("div", { class: "stats" }, [
      stat("questions", "Questions", integer(totals.questions)),
      stat("answered", "Answered", percent(totals.shares.answered), integer(totals.answered) + " by the model"),
      stat("extractive", "Extractive", percent(totals.shares.extractive), integer(totals.extractive) + " quoted, no model"),
      stat("refused", "Refused", percent(totals.shares.refused), integer(totals.refused) + " questions"),
      stat("votes", "Thumbs", "▲ " + integer(totals.up) + " ▼ " + integer(totals.down), "up and down"),
      stat("latency", "Latency p50 / p95", milliseconds(totals.latency_ms.p50) + " / " + milliseconds(totals.latency_ms.p95)),
      stat("tokens", "Model tokens", integer(totals.prompt_tokens + totals.completion_tokens),
        integer(totals.prompt_tokens) + " in, " + integer(totals.completion_tokens) + " out"),
      stat("cost", "Estimated cost", dollars(totals.cost_usd), unpriced.length ? "no price for " + unpriced.join(", ") : "at MODEL_PRICES"),
    ]);
  }

  function legend(items) {
    return el("ul", { class: "legend" }, items.map(function (item) {
      return el("li", {}, [el("span", { class: "swatch s-" + item[0] }), item[1] + " ", el("strong", { text: item[2] })]);
    }));
  }

  // Scales: a round top for the axis (1, 2, 4, 6 or 8 times a power of ten, so its half is round too).
  function roundTop(value) {
    if (!(value > 0)) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 4, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= value) return steps[i] * power;
    return 10 * power;
  }

  function frame(name, days, top, bottom, format) {
    var plotWidth = CHART.width - CHART.left - CHART.right;
    var plotHeight = CHART.height - CHART.top - CHART.bottom;
    var range = top - bottom;
    var chart = {
      band: plotWidth / Math.max(days.length, 1),
      x: function (index) { return CHART.left + chart.band * index; },
      y: function (value) { return CHART.top + plotHeight * (top - value) / range; },
      node: svg("svg", {
        class: "chart",
        "data-chart": name,
        viewBox: "0 0 " + CHART.width + " " + CHART.height,
        role: "img",
        "aria-label": name + " per day",
      }),
    };
    var ticks = bottom < 0 ? [bottom, 0, top] : [0, top / 2, top];
    if (format === integer) ticks = ticks.filter(function (tick) { return tick % 1 === 0; });
    ticks.forEach(function (tick) {
      var y = chart.y(tick);
      chart.node.appendChild(svg("line", { class: tick === 0 ? "axis" : "grid", x1: CHART.left, x2: CHART.width - CHART.right, y1: y, y2: y }));
      chart.node.appendChild(svg("text", { class: "tick", x: CHART.left - 6, y: y + 4, "text-anchor": "end", text: format(Math.abs(tick)) }));
    });
    var every = Math.ceil(days.length / 10);
    days.forEach(function (day, index) {
      if ((days.length - 1 - index) % every !== 0) return;
      chart.node.appendChild(svg("text", {
        class: "tick", x: chart.x(index) + chart.band / 2, y: CHART.height - 8, "text-anchor": "middle", text: shortDay(day.day),
      }));
    });
    return chart;
  }

  function barWidth(chart) {
    return Math.min(chart.band * 0.68, 56);
  }

  /** Stacked bars, one column a day, one rect per series with a value; `note(day)` adds to each tooltip,
   * and is written above each bar when there are few days. */
  function barChart(name, days, series, format, note) {
    var highest = Math.max.apply(null, days.map(function (day) {
      return series.reduce(function (sum, s) { return sum + (day[s.key] || 0); }, 0);
    }));
    var chart = frame(name, days, roundTop(highest), 0, format);
    var width = barWidth(chart);
    days.forEach(function (day, index) {
      var group = svg("g", { class: "day", "data-day": day.day });
      var base = 0;
      series.forEach(function (s) {
        var value = day[s.key] || 0;
        if (!value) return;
        var tip = shortDay(day.day) + " · " + s.name + ": " + format(value) + (note ? " · " + note(day) : "");
        group.appendChild(svg("rect", {
          class: "bar s-" + s.key, "data-series": s.key, "data-value": value,
          x: chart.x(index) + (chart.band - width) / 2, y: chart.y(base + value), width: width,
          height: Math.max(chart.y(base) - chart.y(base + value), 1),
        }, [svg("title", { text: tip })]));
        base += value;
      });
      if (note && base && days.length <= LABELLED_DAYS) {
        group.appendChild(svg("text", {
          class: "tick label", x: chart.x(index) + chart.band / 2, y: chart.y(base) - 5, "text-anchor": "middle", text: note(day, true),
        }));
      }
      chart.node.appendChild(group);
    });
    return chart.node;
  }

  /** Up votes above the axis, down votes below it. */
  function votesChart(days) {
    var up = Math.max.apply(null, days.map(function (day) { return day.up; }));
    var down = Math.max.apply(null, days.map(function (day) { return day.down; }));
    var top = roundTop(Math.max(up, down, 1));
    var chart = frame("votes", days, top, -top, integer);
    var width = barWidth(chart);
    days.forEach(function (day, index) {
      var group = svg("g", { class: "day", "data-day": day.day });
      [["up", day.up, "▲ up"], ["down", -day.down, "▼ down"]].forEach(function (vote) {
        if (!vote[1]) return;
        var from = chart.y(0);
        var to = chart.y(vote[1]);
        group.appendChild(svg("rect", {
          class: "bar s-" + vote[0], "data-series": vote[0], "data-value": Math.abs(vote[1]),
          x: chart.x(index) + (chart.band - width) / 2, y: Math.min(from, to), width: width, height: Math.max(Math.abs(to - from), 1),
        }, [svg("title", { text: shortDay(day.day) + " · " + vote[2] + ": " + Math.abs(vote[1]) })]));
      });
      chart.node.appendChild(group);
    });
    return el("div", {}, [chart.node, legend([["up", "▲ Thumbs up", ""], ["down", "▼ Thumbs down", ""]])]);
  }

  /** One line per series through the days that have a value; a day without answers breaks the line. */
  function lineChart(name, days, series, format) {
    var highest = Math.max.apply(null, days.map(function (day) {
      return Math.max.apply(null, series.map(function (s) { return day.latency_ms[s.key] || 0; }));
    }));
    var chart = frame(name, days, roundTop(highest), 0, format);
    series.forEach(function (s) {
      var runs = [[]];
      days.forEach(function (day, index) {
        var value = day.latency_ms[s.key];
        if (value === null) {
          runs.push([]);
          return;
        }
        runs[runs.length - 1].push([chart.x(index) + chart.band / 2, chart.y(value), value, day.day]);
      });
      runs.forEach(function (run) {
        if (run.length > 1) {
          chart.node.appendChild(svg("polyline", {
            class: "line s-" + s.key, points: run.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join(" "),
          }));
        }
        run.forEach(function (p) {
          chart.node.appendChild(svg("circle", {
            class: "point s-" + s.key, "data-series": s.key, "data-day": p[3], "data-value": p[2], cx: p[0], cy: p[1], r: 4,
          }, [svg("title", { text: shortDay(p[3]) + " · " + s.name + ": " + format(p[2]) })]));
        });
      });
    });
    return chart.node;
  }

  /** The period's questions as one bar: answered, extractive, and each refusal reason. */
  function shareBar(totals) {
    var parts = [["answered", "Answered by the model", totals.answered], ["extractive", "Extractive", totals.extractive]];
    Object.keys(totals.refusal_reasons).sort().forEach(function (reason) {
      parts.push(["refused-" + reason, "Refused: " + reasonName(reason), totals.refusal_reasons[reason]]);
    });
    var node = svg("svg", { class: "chart share", "data-chart": "outcomes", viewBox: "0 0 600 34", role: "img", "aria-label": "How questions ended" });
    var x = 0;
    parts.forEach(function (part) {
      if (!part[2]) return;
      var width = 600 * part[2] / totals.questions;
      node.appendChild(svg("rect", {
        class: "bar s-" + part[0].replace(/^refused-.*/, "refused") + " " + "s-" + part[0], "data-series": part[0], "data-value": part[2],
        x: x, y: 4, width: Math.max(width - 1, 1), height: 26,
      }, [svg("title", { text: part[1] + ": " + integer(part[2]) + " (" + percent(part[2] / totals.questions) + ")" })]));
      x += width;
    });
    if (!totals.questions) node.appendChild(svg("rect", { class: "empty", x: 0, y: 4, width: 600, height: 26 }));
    return node;
  }

  function refusalList(totals) {
    var items = [
      ["answered", "Answered by the model", integer(totals.answered) + " · " + percent(totals.shares.answered)],
      ["extractive", "Extractive (quoted, no model)", integer(totals.extractive) + " · " + percent(totals.shares.extractive)],
    ];
    Object.keys(totals.refusal_reasons).sort().forEach(function (reason) {
      items.push(["refused-" + reason, "Refused: " + reasonName(reason),
        integer(totals.refusal_reasons[reason]) + " · " + percent(totals.shares.refusal_reasons[reason])]);
    });
    return legend(items);
  }

  /** The reasons readers gave with their down votes, longest bar first. */
  function reasonBars(totals) {
    var reasons = Object.keys(totals.down_reasons).map(function (reason) { return [reason, totals.down_reasons[reason]]; });
    var given = reasons.reduce(function (sum, r) { return sum + r[1]; }, 0);
    if (totals.down > given) reasons.push(["no reason given", totals.down - given]);
    reasons.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
    if (!reasons.length) return el("p", { class: "muted", text: "No down votes in this period." });
    var most = reasons[0][1];
    var node = svg("svg", { class: "chart reasons", "data-chart": "down-reasons", viewBox: "0 0 600 " + (reasons.length * 26 + 4), role: "img", "aria-label": "Reasons of the down votes" });
    reasons.forEach(function (reason, index) {
      var y = index * 26 + 4;
      node.appendChild(svg("text", { class: "tick", x: 122, y: y + 15, "text-anchor": "end", text: reason[0] }));
      node.appendChild(svg("rect", {
        class: "bar s-down", "data-series": reason[0], "data-value": reason[1], x: 130, y: y + 2, height: 18,
        width: Math.max(420 * reason[1] / most, 2),
      }, [svg("title", { text: reason[0] + ": " + reason[1] })]));
      node.appendChild(svg("text", { class: "tick", x: 136 + 420 * reason[1] / most, y: y + 16, text: integer(reason[1]) }));
    });
    return el("div", {}, [el("h3", { text: "Why readers voted down" }), node]);
  }

  // ------------------------------------------------------------ tables

  function question(text) {
    if (text !== null) return text;
    return el("span", { class: "hidden-text", text: queriesHidden ? "hidden (STORE_QUERIES=false)" : "question not kept" });
  }

  function table(name, headings, rows, empty) {
    if (!rows.length) return el("p", { class: "muted", text: empty });
    return el("div", { class: "scroll" }, [el("table", { "data-table": name }, [
      el("thead", {}, [el("tr", {}, headings.map(function (h) { return el("th", { scope: "col", class: h[1] || null, text: h[0] }); }))]),
      el("tbody", {}, rows),
    ])]);
  }

  function askedTable(rows) {
    return table("most-asked", [["Question"], ["Asked", "number"], ["Refused", "number"]], rows.map(function (row) {
      return el("tr", {}, [el("td", {}, [question(row.query)]), el("td", { class: "number", text: integer(row.count) }),
        el("td", { class: "number", text: integer(row.refused) })]);
    }), "No questions in this period.");
  }

  function refusedTable(rows) {
    return table("most-refused", [["Question"], ["Refused", "number"], ["Why"]], rows.map(function (row) {
      var why = Object.keys(row.reasons).map(function (reason) { return reasonName(reason) + " × " + row.reasons[reason]; }).join(", ");
      return el("tr", {}, [el("td", {}, [question(row.query)]), el("td", { class: "number", text: integer(row.count) }), el("td", { text: why })]);
    }), "Nothing was refused in this period.");
  }

  function modelTable(models) {
    return table("models", [["Model"], ["Tokens in / out", "number"], ["$ per M", "number"], ["Cost", "number"]],
      models.map(function (model) {
        var price = model.price_per_million;
        return el("tr", {}, [
          el("td", { class: "model", text: model.model || "no model", title: integer(model.answers) + " answers" }),
          el("td", { class: "number", text: integer(model.prompt_tokens) + " / " + integer(model.completion_tokens) }),
          el("td", { class: "number", text: price ? price.prompt + " / " + price.completion : "no price" }),
          el("td", { class: "number", text: dollars(model.cost_usd) }),
        ]);
      }), "No model was called in this period.");
  }

  /** Each answer a row that opens on its question, text, comments and the sections it cited. */
  function worstAnswers(rows) {
    if (!rows.length) return el("p", { class: "muted", text: "No down votes in this period." });
    var base = bookBase();
    return el("div", { class: "worst-list", "data-table": "most-down-voted" }, rows.map(function (row) {
      var reasons = Object.keys(row.reasons).map(function (reason) { return reason + " × " + row.reasons[reason]; }).join(", ");
      var summary = el("summary", {}, [
        el("span", { class: "votes" }, [el("span", { class: "down", text: "▼ " + row.down }), " ", el("span", { class: "up", text: "▲ " + row.up })]),
        el("span", { class: "what" }, [question(row.query)]),
        el("span", { class: "why", text: reasons }),
      ]);
      var cited = row.cited.map(function (source) {
        var label = [source.title, source.section].filter(Boolean).join(" › ") || source.chunk_id;
        var href = safeUrl(source.url, base);
        return el("li", {}, [href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: label }) : label]);
      });
      var comments = row.comments.map(function (c) {
        return el("li", {}, [
          el("span", { class: c.rating < 0 ? "down" : "up", text: c.rating < 0 ? "▼ " : "▲ " }),
          c.reason ? el("strong", { text: c.reason + ": " }) : null,
          c.comment,
          el("span", { class: "when", text: " · " + moment(c.at) }),
        ]);
      });
      return el("details", { class: "worst", "data-answer-id": row.answer_id }, [
        summary,
        el("div", { class: "detail" }, [
          el("h4", { text: "Answer" }),
          row.answer !== null ? el("blockquote", { class: "answer-text", text: row.answer }) : el("p", { class: "muted", text: "The readers' ratings did not include the answer's text." }),
          el("h4", { text: "Readers' comments" }),
          comments.length ? el("ul", { class: "comments" }, comments) : el("p", { class: "muted", text: "No comments." }),
          el("h4", { text: "Sections cited" }),
          cited.length ? el("ul", { class: "cited" }, cited) : el("p", { class: "muted", text: "The answer cited no section." }),
          el("p", { class: "fine", text: [
            "answer " + row.answer_id,
            row.mode ? "mode " + row.mode : "not in the answer log (pruned, or never logged)",
            row.model ? "model " + row.model : null,
            row.answered_at ? "answered " + moment(row.answered_at) : null,
            "last down vote " + moment(row.last_down_at),
          ].filter(Boolean).join(" · ") }),
        ]),
      ]);
    }));
  }

  // ------------------------------------------------------------ wiring

  page.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var key = page.key.value.trim();
    if (!key) {
      page.message.hidden = false;
      page.message.textContent = "Enter the key first.";
      return;
    }
    keepKey(key);
    page.key.value = "";
    load();
  });
  Array.prototype.forEach.call(page.controls.querySelectorAll("[data-period]"), function (button) {
    button.addEventListener("click", function () { choose(button.getAttribute("data-period")); });
  });
  document.getElementById("refresh").addEventListener("click", load);
  document.getElementById("forget").addEventListener("click", function () {
    forgetKey();
    askForKey(null);
  });
  load();
})();
