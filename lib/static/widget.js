/*
 * Bookbot for readers, in one file with no dependencies.
 *
 * On any site:  <script src="https://YOUR-SPACE/widget.js" async></script>
 *   adds an "Ask the book" button; its panel lives in a shadow root, so the
 *   page's styles and the widget's never meet. The API is the server this
 *   file came from; source links lead to the page's own site. Nothing is
 *   built before the page's load event, and nothing is fetched before the
 *   reader asks, so a slow or silent API never holds the page.
 * The chat page at / loads this same file with data-mount="#chat" and renders
 *   the conversation into that element instead.
 * The conversation is kept in the tab's sessionStorage: it survives page
 *   loads and source-link clicks within the site, until "New conversation".
 *
 * Optional attributes on the script tag: data-book-url (where source links
 * given as paths lead; absolute ones need nothing), data-api-url (another API
 * base), data-book (the book this page is in; by default, the docs instance
 * Docusaurus names on <html>), data-position (bottom-right, the default, or
 * bottom-left). The launcher keeps clear of Docusaurus' "back to top" button
 * and hides while the mobile menu is open. The chat page also reads
 * data-book-url on <html> and a ?book= parameter; without either, a source
 * given as a path is shown as plain text, never linked to this server.
 *
 * Safety: no text from the server or the model is ever parsed as HTML. The
 * Markdown renderer builds DOM nodes and puts every character of text into text
 * nodes; links are kept only when they resolve to http(s).
 */
(function () {
  "use strict";

  var SCRIPT = document.currentScript;
  var MAX_QUERY = 2000;
  var MAX_SELECTION = 8000;
  var MAX_TURNS = 20;
  var MAX_HISTORY_CHARACTERS = 16000;
  var KEPT_ENTRIES = 30; // questions and answers a tab keeps; the API is sent the latest 20 turns
  var RESPONSE_TIMEOUT_MS = 45000; // an API that accepts and never answers gets this long
  var POSITIONS = ["bottom-right", "bottom-left"];
  var EDGE = 16; // px between the launcher and the window's edges, or what it keeps clear of
  var FEEDBACK_ATTEMPTS = 10;
  var FEEDBACK_FIRST_DELAY_MS = 500;
  var FEEDBACK_MAX_DELAY_MS = 60000;
  var REASONS = [
    ["wrong", "Wrong"],
    ["incomplete", "Incomplete"],
    ["irrelevant", "Irrelevant"],
    ["unclear", "Unclear"],
    ["other", "Other"],
  ];

  // ---------------------------------------------------------------- helpers

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    var names = Object.keys(attributes || {});
    for (var i = 0; i < names.length; i++) {
      var value = attributes[names[i]];
      if (value === null || value === undefined || value === false) continue;
      if (names[i] === "text") node.textContent = value;
      else node.setAttribute(names[i], value === true ? "" : String(value));
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function uuid() {
    var crypto = window.crypto;
    if (crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    // randomUUID needs a secure context; a widget on a plain http:// site still rates answers.
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
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

  // --------------------------------------------------------------- Markdown

  /*
   * A small Markdown subset: paragraphs, - and 1. lists, fenced code, `code`,
   * **bold**, *em*, [text](url), bare http(s) URLs, and [n] citations. Headings
   * become bold paragraphs. Underscores stay underscores (a technical book is
   * full of snake_case and __init__). Anything else is shown as the text it is.
   * links: {base, target, citation(n) -> {href, title} | null}
   */
  var FENCE = /^\s{0,3}(```|~~~)/;
  var BULLET = /^\s{0,3}([-*+])\s+(.*)$/;
  var NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
  var HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/;

  function renderMarkdown(text, links) {
    var fragment = document.createDocumentFragment();
    var lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    var i = 0;
    while (i < lines.length) {
      var line = lines[i];
      var fence = FENCE.exec(line);
      if (fence) {
        var code = [];
        i++;
        while (i < lines.length && !(lines[i].trim().indexOf(fence[1]) === 0 && !lines[i].trim().slice(3).trim())) {
          code.push(lines[i]);
          i++;
        }
        i++; // the closing fence, or the end of a text still streaming
        fragment.appendChild(el("pre", {}, [el("code", { text: code.join("\n") })]));
      } else if (!line.trim()) {
        i++;
      } else if (BULLET.test(line) || NUMBERED.test(line)) {
        i = renderList(lines, i, fragment, links);
      } else if (HEADING.test(line)) {
        var heading = el("p", { class: "bb-heading" }, [el("strong", {}, [renderInline(HEADING.exec(line)[1], links)])]);
        fragment.appendChild(heading);
        i++;
      } else {
        var paragraph = [];
        while (i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !BULLET.test(lines[i]) &&
               !NUMBERED.test(lines[i]) && !HEADING.test(lines[i])) {
          paragraph.push(lines[i].trim());
          i++;
        }
        var p = el("p");
        paragraph.forEach(function (part, index) {
          if (index) p.appendChild(el("br"));
          p.appendChild(renderInline(part, links));
        });
        fragment.appendChild(p);
      }
    }
    return fragment;
  }

  function renderList(lines, i, fragment, links) {
    var numbered = NUMBERED.test(lines[i]);
    var pattern = numbered ? NUMBERED : BULLET;
    var list = el(numbered ? "ol" : "ul");
    if (numbered) {
      var start = parseInt(NUMBERED.exec(lines[i])[1], 10);
      if (start !== 1) list.setAttribute("start", String(start));
    }
    var items = [];
    while (i < lines.length) {
      var match = pattern.exec(lines[i]);
      if (match) {
        items.push([match[2]]);
        i++;
      } else if (lines[i].trim() && /^\s+/.test(lines[i]) && items.length && !FENCE.test(lines[i])) {
        items[items.length - 1].push(lines[i].trim()); // a continuation of the item above
        i++;
      } else if (!lines[i].trim() && i + 1 < lines.length && pattern.test(lines[i + 1])) {
        i++; // a blank line between two items of one list
      } else {
        break;
      }
    }
    items.forEach(function (parts) {
      var li = el("li");
      li.appendChild(renderInline(parts.join(" "), links));
      list.appendChild(li);
    });
    fragment.appendChild(list);
    return i;
  }

  var INLINE = [
    // [text](url): the label is shown, the link kept only when it is http(s) or relative.
    [/^\[([^\]\n]{1,500})\]\(\s*<?([^\s()<>]{1,2000})>?(?:\s+"[^"\n]*")?\s*\)/, function (m, links) {
      var href = safeUrl(m[2], links.base);
      var label = renderInline(m[1], links, true);
      return href ? link(href, links.target, [label]) : label;
    }],
    // [n]: a citation, linked to its source when there is one.
    [/^\[(\d{1,3})\]/, function (m, links) {
      var source = links.citation && links.citation(parseInt(m[1], 10));
      if (!source || !source.href) return document.createTextNode(m[0]);
      var a = link(source.href, links.target, [m[0]]);
      a.className = "bb-cite";
      if (source.title) a.setAttribute("title", source.title);
      return a;
    }],
    [/^(`+)([\s\S]+?)\1(?!`)/, function (m) {
      return el("code", { text: m[2].replace(/^ ([\s\S]*\S[\s\S]*) $/, "$1") });
    }],
    [/^\*\*(?=\S)([\s\S]*?\S)\*\*/, function (m, links, inLink) { return el("strong", {}, [renderInline(m[1], links, inLink)]); }],
    [/^\*(?=[^\s*])([\s\S]*?[^\s*])\*/, function (m, links, inLink) { return el("em", {}, [renderInline(m[1], links, inLink)]); }],
    [/^https?:\/\/[^\s<>()"'`]*[^\s<>()"'`.,;:!?]/, function (m, links, inLink) {
      return inLink ? document.createTextNode(m[0]) : link(m[0], links.target, [m[0]]);
    }],
  ];
  var INLINE_START = /[\[`*h]/;

  function link(href, target, children) {
    var a = el("a", { href: href }, children);
    if (target === "_blank") {
      a.setAttribute("target", "_blank");
      a.setAttribute("rel", "noopener noreferrer");
    }
    return a;
  }

  /** inLink: inside a link's label, where no further link may open. */
  function renderInline(text, links, inLink) {
    var fragment = document.createDocumentFragment();
    var plain = "";
    var i = 0;
    while (i < text.length) {
      var ch = text.charAt(i);
      var matched = null;
      if (INLINE_START.test(ch)) {
        var rest = text.slice(i);
        for (var r = 0; r < INLINE.length && !matched; r++) {
          if (inLink && r < 2) continue;
          var m = INLINE[r][0].exec(rest);
          if (m) matched = [m, INLINE[r][1]];
        }
      }
      if (matched) {
        if (plain) fragment.appendChild(document.createTextNode(plain));
        plain = "";
        fragment.appendChild(matched[1](matched[0], links, inLink));
        i += matched[0][0].length;
      } else {
        plain += ch;
        i++;
      }
    }
    if (plain) fragment.appendChild(document.createTextNode(plain));
    return fragment;
  }

  // ------------------------------------------------------------ the API

  /** Something the reader should be told, instead of an answer. */
  function Problem(kind, message, retryAfter) {
    this.kind = kind;
    this.message = message;
    this.retryAfter = retryAfter;
  }

  function retryAfterSeconds(response) {
    var value = response && response.headers.get("Retry-After");
    if (!value) return null;
    var seconds = Number(value);
    if (isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
    var when = Date.parse(value);
    return isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }

  function inSeconds(seconds) {
    if (seconds === null || seconds === undefined) return "in a little while";
    if (seconds <= 1) return "in a second";
    if (seconds < 120) return "in " + seconds + " seconds";
    return "in " + Math.ceil(seconds / 60) + " minutes";
  }

  /** The reader's words for an error body (from a status or an error event). */
  function problemFrom(status, body, retryAfter) {
    var error = (body && body.error) || {};
    var code = error.code || "";
    var said = typeof error.message === "string" ? error.message : "";
    if (status === 429 || code === "rate_limited") {
      return new Problem("rate_limited", "Too many questions at once. Please try again " + inSeconds(retryAfter) + ".", retryAfter);
    }
    if (status === 503 || code === "unavailable") {
      return new Problem("unavailable",
        "The book's assistant is unavailable right now" + (said ? " (" + said + ")" : "") +
        ". Please try again " + inSeconds(retryAfter) + ".", retryAfter);
    }
    if (status === 504 || code === "upstream_timeout") {
      return new Problem("timeout", "The answer took too long. Please try again.");
    }
    if (status === 401 || status === 403) {
      return new Problem("refused", "This server does not answer questions from this page" + (said ? " (" + said + ")" : "") + ".");
    }
    if (status >= 400 && status < 500) {
      return new Problem("invalid", "The question could not be sent" + (said ? ": " + said : "") + ".");
    }
    var reference = body && body.request_id ? " (request " + body.request_id + ")" : "";
    return new Problem("server", "Something went wrong on the server" + reference + ". Please try again.");
  }

  var NETWORK = "The book's assistant can't be reached. Check your connection and try again.";

  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  /** Server-sent events from a fetch body, as {event, data} with data parsed as JSON. */
  async function* readEvents(body) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        // A \r at the very end may be the first half of \r\n: keep it for the next chunk.
        var tail = buffer.slice(-1) === "\r" ? "\r" : "";
        buffer = buffer.slice(0, buffer.length - tail.length).replace(/\r\n?/g, "\n") + tail;
        var cut;
        while ((cut = buffer.indexOf("\n\n")) !== -1) {
          var event = parseEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (event) yield event;
        }
      }
    } finally {
      reader.cancel().catch(function () {});
    }
  }

  function parseEvent(block) {
    var name = "message";
    var data = [];
    block.split("\n").forEach(function (line) {
      if (!line || line.charAt(0) === ":") return; // a comment, such as a keep-alive ping
      var colon = line.indexOf(":");
      var field = colon === -1 ? line : line.slice(0, colon);
      var value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    });
    if (!data.length) return null;
    try {
      return { event: name, data: JSON.parse(data.join("\n")) };
    } catch (error) {
      throw new Problem("server", "The server sent an answer this page can't read.");
    }
  }

  /**
   * POST /v1/query with stream: true. Calls on.sources(list) and on.delta(text) as
   * events come; resolves with the done event's data; rejects with a Problem.
   */
  async function askStreaming(api, payload, on, signal) {
    var response;
    var waiting = new AbortController(); // stopped by the reader, or by the clock when no answer starts
    var late = false;
    var clock = setTimeout(function () { late = true; waiting.abort(); }, RESPONSE_TIMEOUT_MS);
    if (signal) signal.addEventListener("abort", function () { waiting.abort(); });
    try {
      response = await fetch(api + "v1/query", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(Object.assign({}, payload, { stream: true })),
        credentials: "omit",
        signal: waiting.signal,
      });
    } catch (error) {
      if (late) throw new Problem("timeout", "The book's assistant did not answer. Please try again in a little while.");
      if (signal && signal.aborted) throw new Problem("stopped", "Stopped.");
      throw new Problem("network", NETWORK);
    } finally {
      clearTimeout(clock);
    }
    if (!response.ok) throw problemFrom(response.status, await readJson(response), retryAfterSeconds(response));
    if ((response.headers.get("Content-Type") || "").indexOf("text/event-stream") === -1 || !response.body) {
      throw new Problem("server", "The server sent an answer this page can't read.");
    }
    var started = false;
    try {
      for await (var item of readEvents(response.body)) {
        if (item.event === "sources") on.sources(Array.isArray(item.data) ? item.data : []);
        else if (item.event === "delta") {
          started = true;
          on.delta(item.data && typeof item.data.text === "string" ? item.data.text : "");
        } else if (item.event === "done") return item.data || {};
        else if (item.event === "error") {
          var problem = problemFrom(0, item.data, null);
          problem.midway = started;
          throw problem;
        }
      }
    } catch (error) {
      if (error instanceof Problem) throw error;
      if (signal && signal.aborted) throw new Problem("stopped", "Stopped.");
      throw new Problem("network", "The connection dropped before the answer was complete.");
    }
    throw new Problem("network", "The connection dropped before the answer was complete.");
  }

  /** POST /v1/feedback until it is stored (201, or 200 for a repeat), backing off exponentially. */
  async function sendFeedback(api, payload, report) {
    var delay = FEEDBACK_FIRST_DELAY_MS;
    for (var attempt = 1; attempt <= FEEDBACK_ATTEMPTS; attempt++) {
      var response = null;
      try {
        response = await fetch(api + "v1/feedback", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(payload),
          credentials: "omit",
        });
      } catch (error) {
        response = null;
      }
      if (response && (response.status === 201 || response.status === 200)) {
        report("saved");
        return true;
      }
      if (response && response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
        report("rejected", problemFrom(response.status, await readJson(response), null).message);
        return false;
      }
      if (attempt === FEEDBACK_ATTEMPTS) break;
      var told = retryAfterSeconds(response);
      var wait = told !== null ? Math.max(told * 1000, 250) : delay * (0.75 + Math.random() / 2);
      report("retrying", Math.ceil(wait / 1000));
      await sleep(wait);
      delay = Math.min(delay * 2, FEEDBACK_MAX_DELAY_MS);
    }
    report("failed");
    return false;
  }

  /** The latest turns that fit the contract: at most 20 turns and 16,000 characters in all. */
  function recentHistory(turns) {
    var kept = [];
    var characters = 0;
    for (var i = turns.length - 1; i >= 0 && kept.length < MAX_TURNS; i--) {
      var content = turns[i].content.trim();
      if (!content) continue;
      if (characters + content.length > MAX_HISTORY_CHARACTERS) break;
      characters += content.length;
      kept.unshift({ role: turns[i].role, content: content });
    }
    return kept;
  }

  // ------------------------------------------------------------- memory

  /**
   * The tab's conversation in sessionStorage under key, so that it survives page loads and
   * source-link clicks; a storage that is off or full only means the conversation is not kept.
   */
  function Memory(key) {
    var storage = null;
    try {
      storage = window.sessionStorage;
      storage.getItem(key);
    } catch (error) {
      storage = null; // blocked (a sandboxed frame, some privacy settings)
    }
    return {
      load: function () {
        try {
          var saved = storage && JSON.parse(storage.getItem(key) || "null");
          return saved && saved.version === 1 ? saved : null;
        } catch (error) {
          return null;
        }
      },
      save: function (state) {
        try {
          if (storage) storage.setItem(key, JSON.stringify(Object.assign({ version: 1 }, state)));
        } catch (error) {
          // full: this page still works, the next one starts afresh
        }
      },
    };
  }

  // ------------------------------------------------------- the conversation

  /**
   * The conversation UI, rendered into root, and kept in options.memory.
   * options: {api, bookBase, linkTarget, memory, placeholder, book}; book() names the page's book
   * Returns {attachSelection(text, page), focus()}.
   */
  function Conversation(root, options) {
    var saved = options.memory.load();
    var sessionId = (saved && typeof saved.sessionId === "string" && saved.sessionId) || newSessionId();
    var entries = []; // {question, selected, payload, text, sources, done | problem}: what the log shows, and keeps
    var busy = null; // the AbortController of the question being answered
    var selection = null; // {text, page} attached to the next question

    var fresh = el("button", { type: "button", class: "bb-new", text: "New conversation" });
    var bar = el("div", { class: "bb-bar", hidden: true }, [fresh]);
    var log = el("div", { class: "bb-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
    var empty = el("p", { class: "bb-empty", text: "Ask anything about the book. Answers cite the sections they come from." });
    var quoteText = el("span", { class: "bb-quote-text" });
    var quoteClear = el("button", { type: "button", class: "bb-quote-clear", "aria-label": "Don't ask about the selection", text: "×" });
    var quote = el("div", { class: "bb-quote", hidden: true }, [el("span", { class: "bb-quote-label", text: "About the selection: " }), quoteText, quoteClear]);
    var input = el("textarea", {
      class: "bb-input", name: "query", rows: 1, maxlength: MAX_QUERY,
      placeholder: options.placeholder || "Ask a question about the book", "aria-label": "Your question",
    });
    var send = el("button", { type: "submit", class: "bb-send", text: "Ask" });
    var form = el("form", { class: "bb-form" }, [input, send]);
    var chat = el("div", { class: "bb-chat" }, [bar, log, quote, form]);
    root.appendChild(chat);
    restore(saved && Array.isArray(saved.entries) ? saved.entries : []);

    fresh.addEventListener("click", function () {
      if (busy) busy.abort();
      sessionId = newSessionId();
      restore([]);
      remember();
      input.focus();
    });
    quoteClear.addEventListener("click", function () { attachSelection(null); input.focus(); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (busy) return; // Enter never stops an answer; the Stop button does
        if (typeof form.requestSubmit === "function") form.requestSubmit();
        else form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    });
    input.addEventListener("input", grow);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) {
        busy.abort();
        return;
      }
      var question = input.value.trim();
      if (!question) return;
      input.value = "";
      grow();
      ask(question).catch(function () {}); // ask() shows its own problems
    });

    function newSessionId() {
      return "web-" + uuid();
    }

    /** The log as the entries say, e.g. after a page load; their finished answers are the history again. */
    function restore(kept) {
      entries = [];
      log.replaceChildren(empty);
      kept.slice(-KEPT_ENTRIES).forEach(function (entry) {
        if (!entry || typeof entry.question !== "string") return;
        var answer = show(entry.question, entry.selected, entry.payload || { query: entry.question });
        answer.restore(entry);
        entries.push(entry);
      });
      bar.hidden = !entries.length;
      log.scrollTop = log.scrollHeight;
    }

    function remember() {
      options.memory.save({ sessionId: sessionId, entries: entries.slice(-KEPT_ENTRIES) });
    }

    /** The turns that went well, as the API takes them: the history of the next question. */
    function turns() {
      var kept = [];
      entries.forEach(function (entry) {
        if (entry.done) kept.push({ role: "user", content: entry.question }, { role: "assistant", content: entry.text });
      });
      return kept;
    }

    function grow() {
      // As tall as what was typed, up to a limit; scrollHeight leaves out the borders of a border-box.
      input.style.height = "auto";
      if (input.scrollHeight) input.style.height = Math.min(input.scrollHeight + input.offsetHeight - input.clientHeight, 160) + "px";
    }

    /** page: {url, title, section} of the page the text was selected on, or null. */
    function attachSelection(text, page) {
      selection = text ? { text: text, page: page || null } : null;
      quote.hidden = !selection;
      quoteText.textContent = selection ? "“" + (text.length > 160 ? text.slice(0, 160) + "…" : text) + "”" : "";
    }

    /** The question's turn and an empty answer under it, in the log; returns the answer. */
    function show(question, selected, payload) {
      if (empty.parentNode) empty.remove();
      var user = el("div", { class: "bb-turn bb-user" }, [el("p", { text: question })]);
      if (selected) user.appendChild(el("blockquote", { class: "bb-selected", text: selected }));
      log.appendChild(user);
      var answer = new AnswerView(options, payload);
      log.appendChild(answer.node);
      bar.hidden = false;
      return answer;
    }

    async function ask(question) {
      var asked = selection;
      attachSelection(null);
      var payload = { query: question, history: recentHistory(turns()), session_id: sessionId };
      var book = options.book ? options.book() : null;
      if (book) payload.book = book; // its passages first: the reader is on one of its pages
      if (asked) {
        // The selection alone: where it comes from goes apart, as its source, never into the text.
        payload.selected_text = asked.text.slice(0, MAX_SELECTION);
        if (asked.page) {
          payload.page_url = asked.page.url;
          if (asked.page.title) payload.page_title = asked.page.title;
          if (asked.page.section) payload.page_section = asked.page.section;
        }
      }
      var selected = asked ? (asked.text.length > 300 ? asked.text.slice(0, 300) + "…" : asked.text) : null;
      var answer = show(question, selected, payload);
      // The question at the top, the answer growing under it, read from its first word.
      log.scrollTop = answer.node.previousSibling.offsetTop - 12;

      var controller = new AbortController();
      busy = controller;
      chat.classList.add("bb-busy");
      send.textContent = "Stop";
      var entry = { question: question, selected: selected, payload: Object.assign({}, payload, { history: undefined }) };
      try {
        var done = await askStreaming(options.api, payload, {
          sources: function (sources) { answer.setSources(sources); },
          delta: function (text) { answer.add(text); },
        }, controller.signal);
        answer.finish(done);
        entry.done = done;
      } catch (error) {
        var problem = error instanceof Problem ? error : new Problem("server", "Something went wrong in this page. Please try again.");
        answer.fail(problem);
        entry.problem = { kind: problem.kind, message: answer.problem.textContent };
      } finally {
        if (busy === controller) {
          busy = null;
          chat.classList.remove("bb-busy");
          send.textContent = "Ask";
        }
      }
      if (!answer.node.isConnected) return; // a new conversation began meanwhile
      entry.text = answer.text;
      entry.sources = answer.sources;
      entries.push(entry);
      remember();
    }

    return {
      attachSelection: attachSelection,
      focus: function () { grow(); input.focus(); },
      showLatest: function () { log.scrollTop = log.scrollHeight; }, // once it is shown, e.g. after a page load
    };
  }

  /** One answer: its text as it streams, its sources, a problem if any, and its rating. */
  function AnswerView(options, payload) {
    var self = this;
    this.text = "";
    this.sources = [];
    this.node = el("div", { class: "bb-turn bb-bot", "data-state": "streaming", "aria-busy": "true" });
    this.note = el("p", { class: "bb-note", hidden: true });
    this.body = el("div", { class: "bb-answer" });
    this.problem = el("p", { class: "bb-problem", role: "alert", hidden: true });
    this.list = el("ol", { class: "bb-sources", hidden: true, "aria-label": "Sources" });
    [this.note, this.body, this.problem, this.list].forEach(function (part) { self.node.appendChild(part); });
    this.options = options;
    this.payload = payload;
    this.pending = false;
  }

  AnswerView.prototype.links = function () {
    var sources = this.sources;
    var base = this.options.bookBase;
    return {
      base: base,
      target: this.options.linkTarget,
      citation: function (n) {
        var source = sources.filter(function (s) { return s.n === n; })[0];
        return source ? { href: safeUrl(source.url, base), title: sourceTitle(source) } : null;
      },
    };
  };

  AnswerView.prototype.setSources = function (sources) {
    this.sources = sources.filter(function (s) { return s && typeof s === "object"; });
  };

  AnswerView.prototype.add = function (text) {
    this.text += text;
    if (this.pending) return;
    this.pending = true;
    var self = this;
    // One render per frame however fast the words come.
    requestAnimationFrame(function () {
      if (self.pending) self.render();
    });
  };

  AnswerView.prototype.render = function () {
    this.pending = false;
    this.body.replaceChildren(renderMarkdown(this.text, this.links()));
  };

  AnswerView.prototype.finish = function (done) {
    this.render();
    this.done = done;
    this.node.setAttribute("data-state", "done");
    if (done.id) this.node.setAttribute("data-answer-id", done.id);
    this.node.removeAttribute("aria-busy");
    if (done.answerable === false) {
      // The sources came before the model judged them; a refusal has none, as in the plain JSON answer.
      this.sources = [];
      this.node.classList.add("bb-refusal");
      this.showNote("Not in the book");
    } else if (done.mode === "selected_text") {
      this.showNote("Answered from your selection");
    } else if (done.mode === "extractive") {
      this.showNote("Quoted from the book (no language model answered)");
    }
    this.showSources();
    if (done.id) this.node.appendChild(new Rating(this).node);
  };

  /** A finished answer as a tab kept it: shown as it was, and still open to a rating. */
  AnswerView.prototype.restore = function (entry) {
    this.setSources(Array.isArray(entry.sources) ? entry.sources : []);
    this.text = typeof entry.text === "string" ? entry.text : "";
    if (entry.done && typeof entry.done === "object") this.finish(entry.done);
    else this.fail(new Problem(entry.problem && entry.problem.kind || "server", entry.problem && entry.problem.message || ""));
  };

  AnswerView.prototype.fail = function (problem) {
    this.render();
    this.node.setAttribute("data-state", problem.kind === "stopped" ? "stopped" : "error");
    this.node.setAttribute("data-problem", problem.kind);
    this.node.removeAttribute("aria-busy");
    this.problem.textContent = problem.midway ? "The answer was cut off. " + problem.message : problem.message;
    this.problem.hidden = false;
    if (this.text) this.showSources();
  };

  AnswerView.prototype.showNote = function (text) {
    this.note.textContent = text;
    this.note.hidden = false;
  };

  AnswerView.prototype.showSources = function () {
    var list = this.list;
    var links = this.links();
    list.replaceChildren();
    this.sources.forEach(function (source) {
      var href = safeUrl(source.url, links.base);
      var label = sourceTitle(source);
      var item = el("li", { value: source.n });
      item.appendChild(href ? link(href, links.target, [label]) : el("span", { text: label }));
      if (source.snippet) item.appendChild(el("span", { class: "bb-snippet", text: source.snippet }));
      list.appendChild(item);
    });
    list.hidden = !this.sources.length;
  };

  function sourceTitle(source) {
    var title = String(source.title || "Untitled");
    return source.section && source.section !== source.title ? title + " › " + source.section : title;
  }

  /** Thumbs up or down, an optional reason and comment, sent until stored. */
  function Rating(answer) {
    var self = this;
    this.answer = answer;
    this.feedbackId = null;
    this.up = el("button", { type: "button", class: "bb-thumb", "aria-pressed": "false", "aria-label": "Helpful", title: "Helpful" }, [thumb(false)]);
    this.down = el("button", { type: "button", class: "bb-thumb", "aria-pressed": "false", "aria-label": "Not helpful", title: "Not helpful" }, [thumb(true)]);
    this.reason = el("select", { class: "bb-reason", "aria-label": "What was wrong?" },
      [el("option", { value: "", text: "What was wrong? (optional)" })].concat(REASONS.map(function (r) { return el("option", { value: r[0], text: r[1] }); })));
    this.comment = el("textarea", { class: "bb-comment", rows: 2, maxlength: 1000, placeholder: "Anything to add? (optional)", "aria-label": "Comment" });
    this.submit = el("button", { type: "submit", class: "bb-rate-send", text: "Send" });
    this.form = el("form", { class: "bb-rate-form", hidden: true }, [this.reason, this.comment, this.submit]);
    this.status = el("span", { class: "bb-rate-status", role: "status" });
    this.node = el("div", { class: "bb-rate" }, [
      el("div", { class: "bb-rate-row" }, [el("span", { class: "bb-rate-label", text: "Was this helpful?" }), this.up, this.down, this.status]),
      this.form,
    ]);
    this.up.addEventListener("click", function () { self.choose(1); });
    this.down.addEventListener("click", function () { self.choose(-1); });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.save().catch(function () {});
    });
  }

  /** A thumb drawn inline: emoji fonts are missing on many systems. */
  function thumb(down) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    if (down) path.setAttribute("transform", "rotate(180 12 12)");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M2 10h4v11H2z M8 10l4-7c1-.8 2.6-.2 2.4 1.4L13.6 9H20c1.2 0 2 1 1.8 2.2l-1.4 8.2c-.2 1-1 1.6-2 1.6H8z");
    svg.appendChild(path);
    return svg;
  }

  Rating.prototype.choose = function (rating) {
    this.rating = rating;
    this.up.setAttribute("aria-pressed", String(rating === 1));
    this.down.setAttribute("aria-pressed", String(rating === -1));
    this.reason.hidden = rating === 1;
    this.reason.setAttribute("aria-label", rating === 1 ? "Reason" : "What was wrong?");
    this.form.hidden = false;
    this.comment.focus();
  };

  Rating.prototype.save = async function () {
    var self = this;
    var answer = this.answer;
    var payload = answer.payload;
    // One id for every retry of this rating, so the server stores it once.
    this.feedbackId = this.feedbackId || uuid();
    var body = {
      feedback_id: this.feedbackId,
      answer_id: answer.done.id,
      rating: this.rating,
      query: payload.query,
      answer: answer.text.slice(0, 20000),
      sources: answer.sources.slice(0, 20).map(function (s) {
        return { n: s.n, title: s.title, section: s.section, url: s.url, score: s.score, chunk_id: s.chunk_id };
      }),
    };
    if (this.rating === -1 && this.reason.value) body.reason = this.reason.value;
    if (this.comment.value.trim()) body.comment = this.comment.value.trim().slice(0, 1000);
    if (payload.selected_text) body.selected_text = payload.selected_text;
    if (payload.session_id) body.session_id = payload.session_id;
    [this.up, this.down, this.reason, this.comment, this.submit].forEach(function (c) { c.disabled = true; });
    this.status.textContent = "Saving…";
    var stored = await sendFeedback(this.answer.options.api, body, function (state, detail) {
      self.node.setAttribute("data-state", state);
      if (state === "saved") self.status.textContent = "Saved. Thank you!";
      else if (state === "retrying") self.status.textContent = "Not saved yet; trying again " + inSeconds(detail) + "…";
      else if (state === "rejected") self.status.textContent = "Not saved: " + detail;
      else self.status.textContent = "Not saved; the server can't be reached. Send it again later.";
    });
    if (stored) {
      this.form.hidden = true;
    } else {
      [this.up, this.down, this.reason, this.comment, this.submit].forEach(function (c) { c.disabled = false; });
    }
  };

  // ------------------------------------------------------------------ styles

  var CHAT_CSS = [
    ".bb-chat{--bb-fg:#1c1e21;--bb-muted:#5f6368;--bb-bg:#fff;--bb-soft:#f2f4f7;--bb-line:#d8dde3;--bb-accent:#2e60c4;--bb-accent-fg:#fff;--bb-warn:#8a4b00;--bb-warn-bg:#fff4e0;--bb-bad:#a11d1d;--bb-bad-bg:#fdecec;",
    "display:flex;flex-direction:column;min-height:0;height:100%;color:var(--bb-fg);background:var(--bb-bg);font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;}",
    ".bb-dark .bb-chat,.bb-chat.bb-dark{--bb-fg:#e3e3e3;--bb-muted:#a0a4a8;--bb-bg:#1b1b1d;--bb-soft:#2a2b2e;--bb-line:#44474c;--bb-accent:#7aa2f7;--bb-accent-fg:#10131a;--bb-warn:#ffcb80;--bb-warn-bg:#3a2b14;--bb-bad:#ffb4b4;--bb-bad-bg:#3d1b1b;}",
    ".bb-chat,.bb-chat *{box-sizing:border-box;}",
    ".bb-log{position:relative;flex:1;overflow-y:auto;padding:12px;overscroll-behavior:contain;}",
    ".bb-bar{display:flex;justify-content:flex-end;padding:6px 12px 0;}",
    ".bb-new{font:inherit;font-size:13px;color:var(--bb-accent);background:none;border:1px solid var(--bb-line);border-radius:14px;padding:3px 10px;cursor:pointer;}",
    ".bb-new:focus-visible{outline:2px solid var(--bb-accent);outline-offset:1px;}",
    ".bb-empty{color:var(--bb-muted);margin:8px 0;}",
    ".bb-turn{margin:0 0 14px;max-width:100%;overflow-wrap:anywhere;}",
    ".bb-turn p{margin:0 0 8px;}",
    ".bb-user{margin-left:15%;padding:8px 12px;border-radius:12px 12px 2px 12px;background:var(--bb-accent);color:var(--bb-accent-fg);}",
    ".bb-user p:last-child{margin-bottom:0;}",
    ".bb-selected{margin:6px 0 0;padding:4px 8px;border-left:3px solid currentColor;opacity:.85;font-size:13px;white-space:pre-wrap;}",
    ".bb-bot{padding:10px 12px;border-radius:12px 12px 12px 2px;background:var(--bb-soft);}",
    ".bb-bot[data-state=streaming] .bb-answer:empty::before{content:'Looking in the book…';color:var(--bb-muted);}",
    ".bb-answer>:last-child{margin-bottom:0;}",
    ".bb-answer ul,.bb-answer ol{margin:0 0 8px;padding-left:22px;}",
    ".bb-answer pre{margin:0 0 8px;padding:8px;overflow-x:auto;background:var(--bb-bg);border:1px solid var(--bb-line);border-radius:6px;font-size:13px;}",
    ".bb-answer code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;}",
    ".bb-answer :not(pre)>code{padding:1px 4px;background:var(--bb-bg);border-radius:4px;}",
    ".bb-chat a{color:var(--bb-accent);}",
    ".bb-cite{font-size:.8em;vertical-align:super;line-height:0;text-decoration:none;padding:0 1px;}",
    ".bb-note{font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:var(--bb-muted);}",
    ".bb-refusal{background:var(--bb-warn-bg);}",
    ".bb-refusal .bb-note{color:var(--bb-warn);}",
    ".bb-problem{margin:8px 0 0;padding:6px 10px;border-radius:6px;background:var(--bb-bad-bg);color:var(--bb-bad);}",
    ".bb-bot[data-state=stopped] .bb-problem{background:none;color:var(--bb-muted);padding:0;}",
    ".bb-sources{margin:10px 0 0;padding:8px 0 0 22px;border-top:1px solid var(--bb-line);font-size:13px;}",
    ".bb-sources li{margin:0 0 6px;}",
    ".bb-snippet{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;color:var(--bb-muted);font-size:12px;}",
    ".bb-rate{margin-top:8px;font-size:13px;color:var(--bb-muted);}",
    ".bb-rate-row{display:flex;align-items:center;gap:6px;flex-wrap:wrap;}",
    ".bb-thumb{display:inline-grid;place-items:center;min-width:38px;min-height:32px;border:1px solid var(--bb-line);border-radius:16px;background:var(--bb-bg);color:var(--bb-muted);cursor:pointer;}",
    ".bb-thumb[aria-pressed=true]{color:var(--bb-accent);border-color:var(--bb-accent);box-shadow:0 0 0 1px var(--bb-accent) inset;}",
    ".bb-thumb:disabled{cursor:default;opacity:.7;}",
    ".bb-rate-form{display:flex;flex-direction:column;gap:6px;margin-top:6px;}",
    ".bb-rate-form[hidden],.bb-reason[hidden]{display:none;}",
    ".bb-reason,.bb-comment{font:inherit;color:var(--bb-fg);background:var(--bb-bg);border:1px solid var(--bb-line);border-radius:6px;padding:6px;}",
    ".bb-rate-send{align-self:flex-start;}",
    ".bb-quote{display:flex;align-items:center;gap:6px;margin:0 12px;padding:6px 8px;border-left:3px solid var(--bb-accent);background:var(--bb-soft);font-size:13px;}",
    ".bb-quote[hidden]{display:none;}",
    ".bb-quote-text{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;}",
    ".bb-quote-label{color:var(--bb-muted);white-space:nowrap;}",
    ".bb-quote-clear{border:0;background:none;font-size:18px;cursor:pointer;color:var(--bb-muted);}",
    ".bb-form{display:flex;gap:8px;padding:10px 12px;border-top:1px solid var(--bb-line);}",
    ".bb-input{flex:1;min-width:0;resize:none;font:inherit;font-size:16px;color:var(--bb-fg);background:var(--bb-bg);border:1px solid var(--bb-line);border-radius:8px;padding:8px 10px;}",
    ".bb-input:focus,.bb-comment:focus,.bb-reason:focus{outline:2px solid var(--bb-accent);outline-offset:-1px;}",
    ".bb-send,.bb-rate-send{font:inherit;font-weight:600;color:var(--bb-accent-fg);background:var(--bb-accent);border:0;border-radius:8px;padding:8px 16px;cursor:pointer;}",
    ".bb-busy .bb-send{background:var(--bb-muted);}",
    "[hidden]{display:none !important;}",
  ].join("\n");

  var WIDGET_CSS = [
    ":host{all:initial;}",
    // Inherited properties still flow from the page through the host (letter-spacing, line-height...): stop them here.
    ".bb-widget{all:initial;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1c1e21;}",
    ".bb-launcher{position:fixed;right:16px;bottom:var(--bb-bottom,16px);z-index:2147483000;display:flex;align-items:center;gap:8px;padding:10px 16px;border:0;border-radius:999px;",
    "background:#2e60c4;color:#fff;font:600 15px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer;}",
    ".bb-dark .bb-launcher{background:#7aa2f7;color:#10131a;}",
    ".bb-launcher:focus-visible,.bb-ask-selection:focus-visible{outline:3px solid #f5a623;outline-offset:2px;}",
    ".bb-panel{position:fixed;right:16px;bottom:calc(var(--bb-bottom,16px) + 56px);z-index:2147483001;display:flex;flex-direction:column;width:min(400px,calc(100vw - 32px));height:min(600px,calc(100vh - var(--bb-bottom,16px) - 80px));",
    "border-radius:12px;overflow:hidden;box-shadow:0 10px 40px rgba(0,0,0,.3);background:#fff;}",
    ".bb-dark .bb-panel{background:#1b1b1d;}",
    ".bb-panel[hidden]{display:none;}",
    ".bb-head{display:flex;align-items:center;justify-content:space-between;padding:10px 12px;background:#2e60c4;color:#fff;font:600 15px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;}",
    ".bb-dark .bb-head{background:#24324d;}",
    ".bb-close{border:0;background:none;color:inherit;font-size:22px;line-height:1;cursor:pointer;padding:0 4px;}",
    ".bb-body{flex:1;min-height:0;}",
    ".bb-ask-selection{position:fixed;z-index:2147483002;padding:6px 10px;border:0;border-radius:6px;background:#1c1e21;color:#fff;",
    "font:600 13px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;box-shadow:0 2px 8px rgba(0,0,0,.3);cursor:pointer;}",
    ".bb-ask-selection[hidden]{display:none;}",
    ".bb-bottom-left .bb-launcher,.bb-bottom-left .bb-panel{right:auto;left:16px;}",
    // While the page's own mobile menu is open, the widget steps aside entirely.
    ".bb-away .bb-launcher,.bb-away .bb-panel,.bb-away .bb-ask-selection{display:none;}",
    // On a phone the panel fills the screen under the page's navigation bar, which stays usable; its × closes it.
    "@media (max-width:480px){.bb-panel{inset:var(--bb-top,0px) 0 0 0;width:auto;height:auto;border-radius:0;}.bb-open .bb-launcher{display:none;}}",
    "@media print{.bb-launcher,.bb-panel,.bb-ask-selection{display:none;}}",
  ].join("\n");

  function addStyles(target, css) {
    // A constructed sheet passes a strict style-src policy; older browsers get a <style>.
    try {
      if (target.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function" && CSSStyleSheet.prototype.replaceSync) {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(css);
        target.adoptedStyleSheets = target.adoptedStyleSheets.concat([sheet]);
        return;
      }
    } catch (error) {
      // fall through to a <style> element
    }
    (target === document ? document.head : target).appendChild(el("style", { text: css }));
  }

  // ------------------------------------------------------------------ mounts

  function scriptUrl() {
    if (SCRIPT && SCRIPT.src) return SCRIPT.src;
    var scripts = document.querySelectorAll("script[src]");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(scripts[i].src)) return scripts[i].src;
    }
    return location.href;
  }

  function attribute(name) {
    return (SCRIPT && SCRIPT.getAttribute(name)) || null;
  }

  function apiBase() {
    var custom = attribute("data-api-url");
    var base = safeUrl(custom || ".", custom ? location.href : scriptUrl());
    return base && base.slice(-1) !== "/" ? base + "/" : base;
  }

  /** The chat page: the book's address from ?book=, else data-book-url, else none. */
  function mountPage(root) {
    var asked = new URLSearchParams(location.search).get("book");
    var configured = attribute("data-book-url") || document.documentElement.getAttribute("data-book-url");
    // Without a book address, links are the sources' own: absolute ones open the book, paths stay text.
    var book = safeUrl(asked || "", location.href) || safeUrl(configured || "", location.href) || undefined;
    addStyles(document, CHAT_CSS);
    var host = document.querySelector("[data-book-host]");
    if (host && book && new URL(book).origin !== location.origin) {
      host.textContent = "Sources link to " + new URL(book).host;
      host.hidden = false;
    }
    followTheme(root);
    var api = apiBase();
    var conversation = Conversation(root, { api: api, bookBase: book, linkTarget: "_blank", memory: Memory("bookbot:chat:" + api) });
    conversation.showLatest();
    conversation.focus();
  }

  /** The book of the page: data-book, else the docs instance Docusaurus names on <html> (plugin-docs plugin-id-X). */
  function pageBook() {
    var given = attribute("data-book");
    if (given) return given;
    var classes = document.documentElement.classList;
    if (!classes.contains("plugin-docs")) return null;
    for (var i = 0; i < classes.length; i++) {
      var match = /^plugin-id-([\w-]+)$/.exec(classes[i]);
      if (match) return match[1];
    }
    return null;
  }

  /** The floating button and panel, in a shadow root of their own. */
  function mountWidget() {
    if (document.querySelector("bookbot-widget")) return; // the script was included twice
    var host = document.createElement("bookbot-widget");
    // The page's rules still reach the host element itself (div{padding}, *{transform}): neutralise what matters.
    var reset = { all: "initial", display: "block", position: "fixed", width: "0", height: "0", margin: "0", padding: "0", border: "0",
                  transform: "none", filter: "none", contain: "none", "z-index": "2147483000" };
    Object.keys(reset).forEach(function (name) { host.style.setProperty(name, reset[name], "important"); });
    var shadow = host.attachShadow({ mode: "open" });
    addStyles(shadow, CHAT_CSS + "\n" + WIDGET_CSS);
    var position = attribute("data-position") || POSITIONS[0];
    if (POSITIONS.indexOf(position) === -1) {
      if (window.console) console.warn("Bookbot: data-position must be one of " + POSITIONS.join(", ") + "; using " + POSITIONS[0]);
      position = POSITIONS[0];
    }
    var frame = el("div", { class: "bb-widget bb-" + position });
    var launcher = el("button", { type: "button", class: "bb-launcher", "aria-expanded": "false", "aria-haspopup": "dialog" }, [
      el("span", { "aria-hidden": "true", text: "?" }), "Ask the book",
    ]);
    launcher.firstChild.style.cssText = "display:inline-grid;place-items:center;width:20px;height:20px;border-radius:50%;background:rgba(255,255,255,.25);";
    var close = el("button", { type: "button", class: "bb-close", "aria-label": "Close", text: "×" });
    var body = el("div", { class: "bb-body" });
    var panel = el("div", { class: "bb-panel", role: "dialog", "aria-label": "Ask the book", hidden: true }, [
      el("div", { class: "bb-head" }, [el("span", { text: "Ask the book" }), close]), body,
    ]);
    var chip = el("button", { type: "button", class: "bb-ask-selection", hidden: true, text: "Ask about this" });
    frame.appendChild(launcher);
    frame.appendChild(panel);
    frame.appendChild(chip);
    shadow.appendChild(frame);
    var book = safeUrl(attribute("data-book-url") || "/", location.href);
    var api = apiBase();
    var conversation = Conversation(body, {
      api: api, bookBase: book, linkTarget: null, memory: Memory("bookbot:widget:" + api), placeholder: "Ask about this book",
      book: pageBook,
    });
    var openMemory = Memory("bookbot:widget-open:" + api);
    followTheme(frame);

    var relayout = function () {};
    var opened = false;
    function open(isOpen) {
      panel.hidden = !isOpen;
      frame.classList.toggle("bb-open", isOpen);
      launcher.setAttribute("aria-expanded", String(isOpen));
      openMemory.save({ open: isOpen });
      relayout();
      if (isOpen && !opened) conversation.showLatest(); // the first time: where the conversation stands
      opened = opened || isOpen;
      if (isOpen) conversation.focus();
      else launcher.focus();
    }

    launcher.addEventListener("click", function () {
      var selected = currentSelection();
      if (selected && panel.hidden) conversation.attachSelection(selected, selectionPage());
      open(panel.hidden);
    });
    close.addEventListener("click", function () { open(false); });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") open(false);
    });
    // Selecting text on the page offers to ask about it.
    var pending = null;
    function currentSelection() {
      var chosen = window.getSelection && window.getSelection();
      if (!chosen || chosen.isCollapsed || !chosen.rangeCount) return "";
      var node = chosen.anchorNode;
      if (node === host || host.contains(node)) return "";
      return chosen.toString().trim().slice(0, MAX_SELECTION);
    }
    function placeChip() {
      pending = null;
      var text = currentSelection();
      if (!text) {
        chip.hidden = true;
        return;
      }
      var box = window.getSelection().getRangeAt(0).getBoundingClientRect();
      var top = box.bottom + 8 + 34 > window.innerHeight ? box.top - 40 : box.bottom + 8;
      chip.style.top = Math.max(8, top) + "px";
      chip.style.left = Math.max(8, Math.min(box.left, window.innerWidth - 140)) + "px";
      chip.hidden = false;
    }
    document.addEventListener("selectionchange", function () {
      if (pending === null) pending = setTimeout(guard(placeChip), 200);
    });
    window.addEventListener("scroll", function () { chip.hidden = true; }, { passive: true });
    chip.addEventListener("mousedown", function (event) { event.preventDefault(); }); // keep the selection
    chip.addEventListener("click", function () {
      var text = currentSelection();
      var page = selectionPage();
      chip.hidden = true;
      if (!text) return;
      conversation.attachSelection(text, page);
      open(true);
    });

    (document.body || document.documentElement).appendChild(host);
    relayout = keepClear(frame, launcher);

    // A link followed from an answer leaves the panel open on a wide screen, beside the page it leads to; on a
    // phone the panel would hide that page, so it waits behind the launcher, the conversation kept.
    var wasOpen = openMemory.load();
    if (wasOpen && wasOpen.open && !narrow()) {
      panel.hidden = false;
      frame.classList.add("bb-open");
      launcher.setAttribute("aria-expanded", "true");
      conversation.showLatest();
      opened = true;
    }
  }

  function narrow() {
    return window.matchMedia ? window.matchMedia("(max-width: 480px)").matches : window.innerWidth <= 480;
  }

  /**
   * Keeps the launcher off what the page shows in its corner: it sits above Docusaurus' "back to top"
   * button, the panel on a phone starts under the page's navigation bar, and everything hides while the
   * mobile menu (.navbar-sidebar) is open. Measured again when the window or the menu changes.
   */
  function keepClear(frame, launcher) {
    var scheduled = false;
    function measure() {
      scheduled = false;
      frame.classList.toggle("bb-away", menuOpen());
      var bottom = EDGE;
      var mine = launcher.getBoundingClientRect();
      if (mine.width) { // not while it is hidden (under an open panel on a phone): measured again when it shows
        document.querySelectorAll(".theme-back-to-top-button").forEach(function (button) {
          var box = button.getBoundingClientRect();
          if (box.width && box.left < mine.right && box.right > mine.left) {
            bottom = Math.max(bottom, Math.ceil(window.innerHeight - box.top) + EDGE / 2);
          }
        });
        frame.style.setProperty("--bb-bottom", bottom + "px");
      }
      var navbar = document.querySelector(".navbar");
      var top = navbar ? navbar.getBoundingClientRect().bottom : 0;
      frame.style.setProperty("--bb-top", Math.max(0, Math.min(Math.ceil(top), 120)) + "px");
    }
    function later() {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(guard(measure));
    }
    measure();
    window.addEventListener("resize", later, { passive: true });
    // Docusaurus opens its menu and changes pages without a load: watch its bar's classes, and the page after clicks.
    var navbar = document.querySelector(".navbar");
    if (navbar && window.MutationObserver) new MutationObserver(later).observe(navbar, { attributes: true, attributeFilter: ["class"], subtree: true });
    document.addEventListener("click", function () { setTimeout(later, 150); }, { capture: true, passive: true });
    return later;
  }

  function menuOpen() {
    if (document.querySelector(".navbar-sidebar--show")) return true;
    var menu = document.querySelector(".navbar-sidebar");
    if (!menu) return false;
    var style = getComputedStyle(menu);
    var box = menu.getBoundingClientRect();
    return style.visibility !== "hidden" && style.display !== "none" && Number(style.opacity) > 0 && box.right > 0 && box.width > 0;
  }

  /**
   * Where a selection was made, sent apart from it: the page's address with the anchor of the heading the
   * selection is under, the page's title and that heading. Docusaurus gives its headings ids; a page whose
   * headings have none is named without one.
   */
  function selectionPage() {
    var chosen = window.getSelection && window.getSelection();
    var node = chosen && chosen.rangeCount ? chosen.getRangeAt(0).startContainer : null;
    var heading = null;
    if (node) {
      var headings = document.querySelectorAll("h1[id], h2[id], h3[id], h4[id], h5[id], h6[id]");
      for (var i = 0; i < headings.length; i++) {
        var before = headings[i].compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING;
        if (before || headings[i].contains(node)) heading = headings[i];
        else break;
      }
    }
    var h1 = document.querySelector("article h1, main h1, h1");
    var title = (h1 ? headingText(h1) : "") || (document.title || "").trim();
    var url = location.href.split("#")[0] + (heading && heading !== h1 ? "#" + encodeURIComponent(heading.id) : "");
    if (!/^https?:\/\/[!-~]+$/.test(url) || url.length > 2000) return null; // not a page the API can name
    var section = heading && heading !== h1 ? headingText(heading) : "";
    return { url: url, title: title.slice(0, 300), section: section.slice(0, 300) };
  }

  /** A heading's words, without the "#" link Docusaurus puts in it. */
  function headingText(heading) {
    var copy = heading.cloneNode(true);
    copy.querySelectorAll(".hash-link").forEach(function (link) { link.remove(); });
    return copy.textContent.replace(/[\u200b\u200c\u200d\ufeff]/g, "").replace(/\s+/g, " ").replace(/\s*#\s*$/, "").trim();
  }

  /** Dark when the Docusaurus site is (html[data-theme=dark]), or when the reader's system is and the site says nothing. */
  function followTheme(node) {
    var html = document.documentElement;
    var query = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
    function apply() {
      var theme = html.getAttribute("data-theme");
      node.classList.toggle("bb-dark", theme ? theme === "dark" : !!(query && query.matches));
    }
    apply();
    new MutationObserver(guard(apply)).observe(html, { attributes: true, attributeFilter: ["data-theme"] });
    if (query && query.addEventListener) query.addEventListener("change", guard(apply));
  }

  /** Wraps a callback so that a bug of ours never becomes the host page's uncaught error. */
  function guard(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (error) {
        if (window.console) console.warn("Bookbot:", error);
      }
    };
  }

  var mount = attribute("data-mount");
  if (mount) {
    // The chat page is ours: it renders as soon as its markup is there.
    var startPage = guard(function () {
      var root = document.querySelector(mount);
      if (root) mountPage(root);
    });
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startPage);
    else startPage();
  } else if (document.readyState === "complete") {
    setTimeout(guard(mountWidget), 0);
  } else {
    // On someone else's page, nothing is built before the page has loaded: the widget never slows it.
    window.addEventListener("load", guard(mountWidget), { once: true });
  }
})();
