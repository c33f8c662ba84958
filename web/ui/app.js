// The coordinator's UI: runs, the forms that start them, a run's live view and the
// comparison of two runs. It reads only the JSON API and the event stream (docs/web.md).
(function () {
  "use strict";
  const main = document.getElementById("main");
  const conn = document.getElementById("conn");
  let cleanup = [];

  // ---- helpers ----
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) if (k != null) e.append(k.nodeType ? k : String(k));
    return e;
  }
  async function api(method, path, body) {
    const opts = { method, headers: {} };
    if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    const r = await fetch(path, opts);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!r.ok) throw new Error((data && data.error) || ("HTTP " + r.status));
    return data;
  }
  const fmt = LT.fmt;
  const when = (t) => (t ? new Date(t).toLocaleString() : "");
  function setConn(ok, text) { conn.className = "conn " + (ok ? "ok" : "lost"); conn.textContent = text; }
  function stateBadge(s) { return h("span", { class: "state " + s, text: s }); }
  function verdict(v) { return h("span", { class: v, text: v }); }
  function clear() { cleanup.forEach((f) => f()); cleanup = []; main.replaceChildren(); }
  function card(label, value, cls) {
    return h("div", { class: "card" }, h("div", { class: "label", text: label }), h("div", { class: "value " + (cls || ""), text: value }));
  }
  function setByPath(obj, path, value) {
    const parts = path.split(".");
    let o = obj;
    for (const p of parts.slice(0, -1)) { if (o[p] == null) o[p] = {}; o = o[p]; }
    o[parts[parts.length - 1]] = value;
  }
  function getByPath(obj, path) { return path.split(".").reduce((o, p) => (o == null ? undefined : o[p]), obj); }
  function fileLinks(id, files) {
    return (files || []).map((f) => h("a", { href: "api/runs/" + id + "/files/" + f, target: "_blank", class: "button", text: f }));
  }

  // ---- routing ----
  async function route() {
    clear();
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, query] = hash.split("?");
    const params = new URLSearchParams(query || "");
    try {
      if (path === "/") return await runsPage();
      if (path === "/new/search") return await searchForm();
      if (path === "/new/plan") return await planForm();
      if (path.startsWith("/run/")) return await runPage(decodeURIComponent(path.slice(5)));
      if (path === "/compare") return await comparePage(params.get("a"), params.get("b"));
      main.append(h("p", { text: "No such page." }));
    } catch (e) {
      main.append(h("div", { class: "error", text: e.message }));
    }
  }
  window.addEventListener("hashchange", route);

  // ---- the runs ----
  async function runsPage() {
    main.append(h("h1", { text: "Runs" }));
    const box = h("div", { class: "tablewrap" });
    main.append(h("div", { class: "toolbar" },
      h("a", { class: "button", href: "#/new/search", text: "New capacity search" }),
      h("a", { class: "button", href: "#/new/plan", text: "New plan" })), box);
    async function load() {
      const runs = await api("GET", "api/runs");
      setConn(true, "connected");
      const rows = runs.map((r) => h("tr", {},
        h("td", {}, h("a", { href: "#/run/" + encodeURIComponent(r.id), text: r.id })),
        h("td", { text: r.kind }),
        h("td", { text: r.name }),
        h("td", {}, stateBadge(r.state)),
        h("td", { text: r.answer || (r.state === "running" ? (r.phase || "") + ", " + r.active_users + " users" : "") }),
        h("td", { text: when(r.created) }),
        h("td", {}, fileLinks(r.id, r.files),
          h("a", { class: "button", href: "#/compare?a=" + encodeURIComponent(r.id), text: "compare" }),
          r.state !== "running" ? h("button", { class: "danger", onclick: async () => {
            if (!confirm("Delete " + r.id + " and its folder?")) return;
            try { await api("DELETE", "api/runs/" + encodeURIComponent(r.id)); load(); } catch (e) { alert(e.message); }
          }, text: "delete" }) : null)));
      box.replaceChildren(runs.length ? h("table", {},
        h("tr", {}, ["id", "kind", "name", "state", "answer", "created", ""].map((t) => h("th", { text: t }))), rows)
        : h("p", { text: "No runs yet: start a capacity search or a plan." }));
    }
    await load();
    const t = setInterval(() => load().catch(() => setConn(false, "coordinator unreachable")), 3000);
    cleanup.push(() => clearInterval(t));
  }

  // ---- forms ----
  function field(label, path, value, opts) {
    opts = opts || {};
    let input;
    if (opts.options) {
      input = h("select", { "data-path": path }, opts.options.map((o) => h("option", { value: o, text: o, selected: o === value })));
    } else if (opts.textarea) {
      input = h("textarea", { "data-path": path, rows: opts.rows || 4 });
      input.value = value == null ? "" : value;
    } else {
      input = h("input", { "data-path": path, type: opts.type || "text", step: opts.step || "any", value: value == null ? "" : value });
    }
    input.dataset.kind = opts.kind || (opts.type === "number" ? "number" : "text");
    return h("label", { title: path }, label, input, opts.hint ? h("span", { class: "hint", text: opts.hint }) : null);
  }
  // joinedField is the choice to take the agents that join this coordinator (serve --join-listen).
  function joinedField(agents) {
    const box = h("input", { type: "checkbox", "data-join": "1", disabled: !agents.join });
    const now = agents.join ? (agents.joined.length ? "joined now: " + agents.joined.join(", ") : "none joined yet") : "start coordinator serve with --join-listen to accept them";
    return h("label", {}, h("span", {}, box, " Take the agents that join (loadtest server --join " + (agents.join || "ws://HOST:9696/join") + ")"), h("span", { class: "hint", text: now }));
  }
  function applyJoined(f, cfg) {
    const box = f.querySelector("[data-join]");
    if (box && box.checked) cfg.ClusterConfig.JoinListen = "serve"; // any value: the server's own address is used
  }
  const lines = (s) => s.split("\n").map((l) => l.trim()).filter((l) => l);
  function agentsFrom(text) {
    return lines(text).map((l) => { const [Id, ApiURL, Token] = l.split(/\s+/); return { Id, ApiURL, Token: Token || "" }; });
  }
  function agentsText(list) { return (list || []).map((a) => a.Id + " " + a.ApiURL + (a.Token ? " " + a.Token : "")).join("\n"); }

  // form builds a run form: sections of fields writing into the request's JSON objects
  // (config, agent_config, plan), the full JSON of each under "Advanced", live validation
  // with the server's own field errors, and Start.
  function form(title, kind, objects, sections, toRequest) {
    main.append(h("h1", { text: title }));
    const msg = h("div", { "aria-live": "polite" });
    const advanced = {};
    const f = h("form", { class: "run", novalidate: true });
    for (const [legend, fields] of sections) f.append(h("fieldset", {}, h("legend", { text: legend }), h("div", { class: "fields" }, fields)));
    const adv = h("details", {}, h("summary", { text: "Advanced: the whole JSON (fields above override it)" }));
    for (const [name, obj] of Object.entries(objects)) {
      const ta = h("textarea", { rows: 12, "data-json": name });
      ta.value = JSON.stringify(obj, null, 2);
      advanced[name] = ta;
      adv.append(h("label", {}, name, ta));
    }
    f.append(adv, h("div", { class: "toolbar" }, h("button", { class: "primary", type: "submit", text: "Start" }), h("span", { class: "hint", text: "Checked as you type, with the same field errors as the config files." })), msg);
    main.append(f);
    function build() {
      const req = { kind };
      for (const [name, ta] of Object.entries(advanced)) {
        try { req[name] = JSON.parse(ta.value); } catch (e) { throw new Error(name + " (advanced JSON): " + e.message); }
      }
      for (const el of f.querySelectorAll("[data-path]")) {
        const [obj, ...rest] = el.dataset.path.split(".");
        let v = el.value;
        if (el.dataset.kind === "number") v = v === "" ? 0 : Number(v);
        if (el.dataset.kind === "skip") continue;
        setByPath(req[obj], rest.join("."), v);
      }
      toRequest(req, f);
      return req;
    }
    let timer = null, seq = 0;
    async function validate() {
      const my = ++seq;
      let req;
      try { req = build(); } catch (e) { msg.replaceChildren(h("div", { class: "error", text: e.message })); return false; }
      try {
        await api("POST", "api/runs?validate=1", req);
        if (my === seq) msg.replaceChildren(h("p", { class: "ok", text: "✓ valid" }));
        return true;
      } catch (e) {
        if (my === seq) msg.replaceChildren(h("div", { class: "error", text: e.message }));
        return false;
      }
    }
    f.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(validate, 350); });
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      let req;
      try { req = build(); } catch (e) { msg.replaceChildren(h("div", { class: "error", text: e.message })); return; }
      req.start = true;
      try {
        const run = await api("POST", "api/runs", req);
        location.hash = "#/run/" + encodeURIComponent(run.id);
      } catch (e) { msg.replaceChildren(h("div", { class: "error", text: e.message })); }
    });
    validate();
  }

  async function searchForm() {
    const d = await api("GET", "api/defaults");
    const joined = await api("GET", "api/agents");
    const cfg = d.config, lt = d.agent_config;
    const queries = JSON.stringify(cfg.MonitorConfig.Queries, null, 2);
    form("New capacity search", "search", { config: cfg, agent_config: lt }, [
      ["Target", [
        field("Mattermost server URL", "agent_config.ConnectionConfiguration.ServerURL", lt.ConnectionConfiguration.ServerURL),
        field("User type", "agent_config.UserControllerConfiguration.Type", lt.UserControllerConfiguration.Type, { options: ["simulative", "simple", "noop"] }),
        field("Users per agent at most", "agent_config.UsersConfiguration.MaxActiveUsers", lt.UsersConfiguration.MaxActiveUsers, { type: "number" }),
      ]],
      ["Agents", [
        field("Agents (one a line: id api-url [token])", "config.ClusterConfig.Agents", agentsText(cfg.ClusterConfig.Agents), { textarea: true, kind: "agents",
          hint: "each runs `loadtest server`; or let agents join (--join-listen)" }),
        field("Users at most, all agents", "config.ClusterConfig.MaxActiveUsers", cfg.ClusterConfig.MaxActiveUsers, { type: "number" }),
        joinedField(joined),
      ]],
      ["Monitor", [
        field("Prometheus URL (empty: the embedded engine)", "config.MonitorConfig.PrometheusURL", cfg.MonitorConfig.PrometheusURL),
        field("More scrape targets (one a line: job url)", "config.MonitorConfig.ScrapeTargets", (cfg.MonitorConfig.ScrapeTargets || []).map((t) => t.Job + " " + t.URL).join("\n"), { textarea: true, kind: "targets" }),
        field("Queries and thresholds (JSON)", "config.MonitorConfig.Queries", queries, { textarea: true, rows: 10, kind: "json" }),
      ]],
      ["Search", [
        field("Strategy", "config.Search.Strategy", cfg.Search.Strategy, { options: ["adaptive", "fixed-step"] }),
        field("First probe's users (0: 50)", "config.Search.StartUsers", cfg.Search.StartUsers, { type: "number" }),
        field("Hold, s", "config.Search.HoldSec", cfg.Search.HoldSec, { type: "number" }),
        field("Settle, s", "config.Search.SettleSec", cfg.Search.SettleSec, { type: "number" }),
        field("Precision (0.02: 2 %)", "config.Search.Precision", cfg.Search.Precision, { type: "number" }),
        field("Time budget, s", "config.Search.TimeBudgetSec", cfg.Search.TimeBudgetSec, { type: "number" }),
        field("Max agent utilization", "config.Search.MaxAgentUtilization", cfg.Search.MaxAgentUtilization, { type: "number" }),
      ]],
    ], (req, f) => {
      const el = (p) => f.querySelector('[data-path="' + p + '"]');
      req.config.ClusterConfig.Agents = agentsFrom(el("config.ClusterConfig.Agents").value);
      applyJoined(f, req.config);
      req.config.MonitorConfig.ScrapeTargets = lines(el("config.MonitorConfig.ScrapeTargets").value).map((l) => { const [Job, URL] = l.split(/\s+/); return { Job, URL }; });
      try { req.config.MonitorConfig.Queries = JSON.parse(el("config.MonitorConfig.Queries").value); } catch (e) { throw new Error("Queries: " + e.message); }
    });
    for (const k of ["agents", "targets", "json"]) for (const el of main.querySelectorAll('[data-kind="' + k + '"]')) el.dataset.kind = "skip";
  }

  async function planForm() {
    const d = await api("GET", "api/defaults");
    const joined = await api("GET", "api/agents");
    const p = d.plan, cfg = d.config;
    p.Targets = p.Targets || ["http://127.0.0.1:8065"];
    const script = "def main():\n    get('/api/v4/system/ping')\n";
    form("New plan", "plan", { plan: p, config: cfg }, [
      ["Plan", [
        field("Name", "plan.Name", p.Name),
        field("Targets (one base URL a line)", "plan.Targets", p.Targets.join("\n"), { textarea: true, kind: "skip" }),
        field("User type", "plan.UserType", p.UserType || "script", { options: ["script", "simulative", "simple", "noop"] }),
        field("Users", "plan.Users", p.Users || 10, { type: "number" }),
        field("Ramp-up, s", "plan.RampUpSec", p.RampUpSec || 10, { type: "number" }),
        field("Sustain, s", "plan.SustainSec", p.SustainSec || 60, { type: "number" }),
        field("Wind-down, s", "plan.WindDownSec", p.WindDownSec || 5, { type: "number" }),
        field("Ramp steps (0: one a second)", "plan.RampSteps", p.RampSteps, { type: "number" }),
        field("Report every, s", "plan.ReportEverySec", p.ReportEverySec, { type: "number" }),
      ]],
      ["Script", [
        field("Script name", "plan.ScriptName", "main", { kind: "skip" }),
        field("Script (Starlark; docs/scripts.md)", "plan.ScriptSource", script, { textarea: true, rows: 8, kind: "skip" }),
        field("Thresholds (one a line: p99<500ms, error_rate<1%)", "plan.Thresholds", (p.Thresholds || []).join("\n"), { textarea: true, kind: "skip" }),
      ]],
      ["Agents", [
        field("Agents (one a line: id api-url [token])", "plan.Agents", agentsText(p.Agents), { textarea: true, kind: "skip" }),
        field("Max agent utilization", "plan.MaxAgentUtilization", p.MaxAgentUtilization, { type: "number" }),
        joinedField(joined),
      ]],
    ], (req, f) => {
      const el = (path) => f.querySelector('[data-path="' + path + '"]');
      req.plan.Targets = lines(el("plan.Targets").value);
      req.plan.Agents = agentsFrom(el("plan.Agents").value);
      applyJoined(f, req.config);
      if (req.config.ClusterConfig.JoinListen && !req.plan.Agents.length) req.config.ClusterConfig.Agents = []; // only the joined ones
      req.plan.Thresholds = lines(el("plan.Thresholds").value);
      if (req.plan.UserType === "script") {
        req.plan.Scripts = [{ Name: el("plan.ScriptName").value, Source: el("plan.ScriptSource").value }];
      } else {
        delete req.plan.Scripts;
      }
      delete req.plan.ScriptName;
      delete req.plan.ScriptSource;
    });
  }

  // ---- a run: the live view, or a past run's report ----
  function timeline() {
    return { t: [], users: [], thr: [], p50: [], p99: [], util: [], errs: [], phase: [], agentUtil: {}, keys: {}, agents: [], n: 0 };
  }
  // add appends one second to the timeline (from an observation, or a past report's series).
  function add(tl, sec, agents, keys) {
    const i = tl.n++;
    const gap = sec.no_data;
    tl.t.push(new Date(sec.time).getTime() / 1000);
    tl.users.push(sec.users);
    tl.phase.push(sec.phase);
    tl.thr.push(gap ? null : sec.throughput);
    tl.p50.push(gap ? null : 1000 * sec.p50_s);
    tl.p99.push(gap ? null : 1000 * sec.p99_s);
    tl.util.push(gap ? null : sec.utilization);
    let errs = 0;
    for (const k of keys || []) {
      if (k.key.startsWith("phase ")) continue; // connect, headers, body: in report.json
      if (k.key.startsWith("route ")) errs += k.errors;
      let s = tl.keys[k.key];
      if (!s) { s = tl.keys[k.key] = { p50: new Array(i).fill(null), p99: new Array(i).fill(null), n: 0 }; }
      s.p50[i] = k.p50; s.p99[i] = k.p99; s.n += k.count;
    }
    for (const s of Object.values(tl.keys)) { if (s.p50.length <= i) { s.p50[i] = null; s.p99[i] = null; } }
    tl.errs.push(gap ? null : errs);
    if (agents) {
      tl.agents = agents;
      for (const a of agents) {
        if (!tl.agentUtil[a.id]) tl.agentUtil[a.id] = new Array(i).fill(null);
        tl.agentUtil[a.id][i] = a.up ? a.utilization : null;
      }
    }
    for (const u of Object.values(tl.agentUtil)) if (u.length <= i) u[i] = null;
  }
  function fromObservation(tl, o) {
    add(tl, o, o.agents, (o.keys || []).map((k) => ({ key: k.key, count: k.count, errors: k.errors, p50: k.p50_ns / 1e6, p99: k.p99_ns / 1e6 })));
  }
  function fromReport(tl, rep) {
    const perSec = (rep.Series || []).map(() => []);
    for (const k of rep.Keys || []) k.sec.forEach((s, j) => perSec[s] && perSec[s].push({ key: k.key, count: k.count[j], errors: k.errors[j], p50: k.p50_ms[j], p99: k.p99_ms[j] }));
    (rep.Series || []).forEach((s, i) => add(tl, s, i === rep.Series.length - 1 ? rep.Agents : null, perSec[i]));
  }

  // probeBounds is the bracket after each probe: the best pass below the lowest fail.
  function probeBounds(probes) {
    const out = [];
    let hi = 0;
    for (let k = 0; k < probes.length; k++) {
      const p = probes[k];
      if (p.verdict === "fail" && (hi === 0 || p.users < hi)) hi = p.users;
      let lo = 0;
      for (const q of probes.slice(0, k + 1)) if (q.verdict === "pass" && (hi === 0 || q.users < hi) && q.users > lo) lo = q.users;
      out.push([lo, hi || null]);
    }
    return out;
  }

  async function runPage(id) {
    const sum = await api("GET", "api/runs/" + encodeURIComponent(id));
    const tl = timeline();
    let rep = null, state = sum.state;
    const head = h("div");
    const cards = h("div", { class: "cards" });
    const charts = h("div", { class: "charts" });
    const tables = h("div");
    const log = h("pre", { class: "log" });
    main.append(head, cards, charts, tables);
    if (sum.live) main.append(h("h2", { text: "Progress" }), log);
    const isPlan = sum.kind === "plan";
    const C = {};
    function mkCharts() {
      C.users = LT.chart(charts, { title: "Users and throughput", yLabel: "users", y2Label: "req/s",
        series: [{ label: "users", stroke: "#1f6feb" }, { label: "req/s", stroke: "#1a9641", scale: "y2" }] });
      C.lat = LT.chart(charts, { title: "Latency, all requests (ms)", yLabel: "ms",
        series: [{ label: "p50", stroke: "#1f6feb" }, { label: "p99", stroke: "#d7191c" }] });
      C.util = null;
      if (!isPlan) {
        C.bracket = LT.chart(charts, { title: "The bracket narrowing (users)", yLabel: "users",
          series: [{ label: "last pass", stroke: "#1a9641" }, { label: "first fail", stroke: "#d7191c" }, { label: "pass", stroke: "#1a9641", points: true }, { label: "fail", stroke: "#d7191c", points: true }, { label: "invalid", stroke: "#999", points: true }, { label: "knee", stroke: "#9467bd", dash: [6, 4] }] });
      } else {
        C.errs = LT.chart(charts, { title: "Failed requests a second", yLabel: "errors", series: [{ label: "errors", stroke: "#d7191c" }] });
      }
    }
    mkCharts();
    // What a test (or a curious user) can ask of the page: the seconds drawn, the state.
    window.ltRun = { id, points: () => tl.n, state: () => state, report: () => rep, charts: C, timeline: tl };
    let queryCharts = null, routeChart = null, routeKeys = "", otherChart = null, otherKeys = "", utilChart = null, utilIds = null;

    function render() {
      const st = (rep && rep.StopTime && state !== "running") ? null : null;
      void st;
      // head
      head.replaceChildren(h("h1", {}, sum.name || id, " ", stateBadge(state)),
        h("div", { class: "toolbar" },
          state === "running" ? h("button", { class: "danger", onclick: async (e) => { e.target.disabled = true; try { await api("POST", "api/runs/" + id + "/stop"); } catch (x) { alert(x.message); } }, text: "Stop" }) : null,
          state === "created" ? h("button", { class: "primary", onclick: async () => { await api("POST", "api/runs/" + id + "/start"); route(); }, text: "Start" }) : null,
          isPlan && state === "running" ? usersControl(id) : null,
          fileLinks(id, sum.files)));
      // cards
      const last = tl.n ? tl.n - 1 : -1;
      const c = [];
      if (!isPlan) {
        const probes = (rep && rep.Probes) || [];
        const b = probeBounds(probes);
        const br = b.length ? b[b.length - 1] : [0, null];
        const done = rep && rep.Outcome;
        c.push(card(done ? "supported users" : "supported so far", done ? rep.SupportedUsers : br[0], done ? "pass" : ""));
        c.push(card("bracket", "[" + (done ? rep.Bracket[0] : br[0]) + ", " + ((done ? rep.Bracket[1] : br[1]) || "∞") + ")"));
        if (done && rep.Estimate) c.push(card(rep.Fitted ? "fitted crossing (the answer)" : "fitted crossing", Math.round(rep.Estimate.users) + " ± " + Math.round(rep.Estimate.err) + " (95%)"));
        c.push(card("probes", probes.length));
        c.push(card("knee", rep && rep.Knee ? rep.Knee : "—"));
        c.push(card("users now", last >= 0 ? tl.users[last] : 0));
        c.push(card("phase", last >= 0 ? tl.phase[last] : "—"));
        if (rep && rep.Outcome) c.push(card("outcome", rep.Outcome));
      } else {
        c.push(card("users", last >= 0 ? tl.users[last] : 0));
        c.push(card("req/s", last >= 0 ? fmt(tl.thr[last]) : "—"));
        c.push(card("p99, ms", last >= 0 ? fmt(tl.p99[last]) : "—"));
        c.push(card("errors/s", last >= 0 ? fmt(tl.errs[last]) : "—"));
        c.push(card("phase", last >= 0 ? tl.phase[last] : "—"));
      }
      cards.replaceChildren(...c);
      // charts
      C.users.update([tl.t, tl.users, tl.thr]);
      C.lat.update([tl.t, tl.p50, tl.p99]);
      if (C.errs) C.errs.update([tl.t, tl.errs]);
      if (!isPlan && rep) searchCharts();
      routeCharts();
      agentCharts();
      tablesRender();
    }

    function searchCharts() {
      const probes = rep.Probes || [];
      const t0 = new Date(rep.StartTime).getTime() / 1000;
      const at = probes.map((p) => t0 + (p.at_s || 0));
      const b = probeBounds(probes);
      const only = (v) => probes.map((p) => (p.verdict === v ? p.users : null));
      const xs = tl.t.length ? tl.t : at;
      // step the bounds over the timeline
      const lo = xs.map(() => null), hi = xs.map(() => null), pass = xs.map(() => null), fail = xs.map(() => null), inv = xs.map(() => null), knee = xs.map(() => (rep.Knee ? rep.Knee : null));
      let k = 0;
      xs.forEach((x, i) => {
        while (k < at.length && at[k] <= x) k++;
        if (k > 0) { lo[i] = b[k - 1][0] || null; hi[i] = b[k - 1][1]; }
      });
      // each probe at the second nearest its hold's end, so every chart shares the timeline's x
      const slot = at.map((x) => {
        let best = 0;
        for (let i = 0; i < xs.length; i++) if (Math.abs(xs[i] - x) < Math.abs(xs[best] - x)) best = i;
        return best;
      });
      slot.forEach((i, j) => { ({ pass, fail, invalid: inv })[probes[j].verdict][i] = probes[j].users; });
      void only;
      C.bracket.update([xs, lo, hi, pass, fail, inv, knee]);
      // each query at each probe, against its threshold
      const qs = (rep.Config && rep.Config.MonitorConfig && rep.Config.MonitorConfig.Queries) || [];
      if (!queryCharts) {
        queryCharts = qs.map((q) => LT.chart(charts, { title: q.Description + (q.Alert ? " (alert)" : ""), height: 180,
          series: [{ label: "value at the probe", stroke: "#1f6feb", points: true }, { label: "threshold " + q.Threshold, stroke: "#d7191c", dash: [5, 5] }] }));
      }
      qs.forEach((q, i) => {
        const vals = xs.map(() => null);
        slot.forEach((k, j) => { vals[k] = probes[j].values ? probes[j].values[i] : null; });
        queryCharts[i].update([xs, vals, xs.map(() => q.Threshold)]);
      });
    }

    function routeCharts() {
      const busiest = (pred) => Object.entries(tl.keys).filter((e) => pred(e[0])).sort((a, b) => b[1].n - a[1].n).slice(0, 8).map((e) => e[0]);
      // Actions, scripts' iterations and their timings: the script metrics.
      const others = busiest((k) => !k.startsWith("route "));
      if (others.join("|") !== otherKeys) {
        if (otherChart) otherChart.chart.destroy();
        otherKeys = others.join("|");
        otherChart = others.length ? { keys: others, chart: LT.chart(charts, { title: "p99 per action and script metric (ms)", yLabel: "ms",
          series: others.map((k, i) => ({ label: k, stroke: LT.palette[i % LT.palette.length] })) }) } : null;
      }
      if (otherChart) otherChart.chart.update([tl.t].concat(otherChart.keys.map((k) => tl.keys[k].p99)));
      const keys = busiest((k) => k.startsWith("route "));
      const sig = keys.join("|");
      if (sig !== routeKeys) {
        if (routeChart) { routeChart.p50.destroy(); routeChart.p99.destroy(); }
        routeChart = null;
        routeKeys = sig;
        if (keys.length) {
          const series = keys.map((k, i) => ({ label: k.replace(/^route /, ""), stroke: LT.palette[i % LT.palette.length] }));
          routeChart = { keys,
            p99: LT.chart(charts, { title: "p99 per route (ms)", yLabel: "ms", series }),
            p50: LT.chart(charts, { title: "p50 per route (ms)", yLabel: "ms", series }) };
        }
      }
      if (routeChart) {
        routeChart.p99.update([tl.t].concat(routeChart.keys.map((k) => tl.keys[k].p99)));
        routeChart.p50.update([tl.t].concat(routeChart.keys.map((k) => tl.keys[k].p50)));
      }
    }

    function agentCharts() {
      const ids = Object.keys(tl.agentUtil).sort();
      const sig = ids.join("|");
      if (sig !== utilIds) {
        if (utilChart) utilChart.destroy();
        utilIds = sig;
        const series = ids.map((a, i) => ({ label: a, stroke: LT.palette[i % LT.palette.length] }));
        series.push({ label: "0.8: saturated above", stroke: "#d7191c", dash: [5, 5] });
        utilChart = LT.chart(charts, { title: "Agent utilization (above 0.8 the agent, not the target, may be the limit)", series });
      }
      utilChart.update([tl.t].concat(ids.map((a) => tl.agentUtil[a]), [tl.t.map(() => 0.8)]));
    }

    function tablesRender() {
      const parts = [];
      const agents = tl.agents || [];
      if (agents.length) {
        parts.push(h("h2", { text: "Agents" }), h("div", { class: "tablewrap" }, h("table", {},
          h("tr", {}, ["agent", "up", "users", "starting", "utilization", "errors", "problem"].map((t) => h("th", { text: t }))),
          agents.map((a) => h("tr", {}, h("td", { text: a.id }), h("td", { text: a.up ? "yes" : "no", class: a.up ? "" : "fail" }),
            h("td", { class: "num", text: a.users }), h("td", { class: "num", text: a.starting || 0 }),
            h("td", { class: "num " + (a.utilization > 0.8 ? "warn" : ""), text: fmt(a.utilization) + " (CPU " + fmt(a.cpu || 0) + ", lag " + fmt(a.lag || 0) + ")" + (a.utilization > 0.8 ? " above 0.8" : "") }),
            h("td", { class: "num", text: a.num_errors }), h("td", { text: a.problem || "" }))))));
      }
      if (rep && !isPlan && (rep.Probes || []).length) {
        const qs = (rep.Config && rep.Config.MonitorConfig && rep.Config.MonitorConfig.Queries) || [];
        parts.push(h("h2", { text: "Probes" }), h("div", { class: "tablewrap" }, h("table", {},
          h("tr", {}, ["#", "users", "verdict", "reason", "values ± noise", "hold s", "req/s", "mean ms", "utilization"].map((t) => h("th", { text: t }))),
          rep.Probes.map((p, i) => h("tr", {}, h("td", { text: i + 1 }), h("td", { class: "num", text: p.users }), h("td", {}, verdict(p.verdict)),
            h("td", { text: p.reason }),
            h("td", { text: (p.values || []).map((v, j) => (qs[j] ? qs[j].Description + " " : "") + fmt(v) + (p.std_errs && p.std_errs[j] ? " ±" + fmt(1.96 * p.std_errs[j]) : "")).join("; ") }),
            h("td", { class: "num", text: fmt(p.hold_s) }), h("td", { class: "num", text: fmt(p.throughput) }),
            h("td", { class: "num", text: fmt(1000 * p.mean_latency_s) }),
            h("td", { class: "num", text: fmt(p.utilization) + (p.utilization_over_share ? " (" + fmt(100 * p.utilization_over_share) + "% of s above)" : "") }))))));
      }
      if (rep && isPlan && (rep.Periods || []).length) {
        parts.push(h("h2", { text: "Periods" }), h("div", { class: "tablewrap" }, h("table", {},
          h("tr", {}, ["start", "end", "phase", "users", "requests", "errors", "utilization"].map((t) => h("th", { text: t }))),
          rep.Periods.map((p) => {
            const routes = (p.metrics || []).filter((m) => m.key.startsWith("route "));
            const n = routes.reduce((s, m) => s + m.count, 0), e = routes.reduce((s, m) => s + m.errors, 0);
            return h("tr", {}, h("td", { text: when(p.start) }), h("td", { text: when(p.end) }), h("td", { text: p.phase }), h("td", { class: "num", text: p.users }),
              h("td", { class: "num", text: n }), h("td", { class: "num", text: e }),
              h("td", { class: "num " + (p.saturated ? "warn" : ""), text: fmt(p.utilization) + (p.saturated ? " saturated: " + (p.saturated_agents || []).join(", ") : "") }));
          }))));
      }
      if (rep && (rep.Checks || []).length) {
        parts.push(h("h2", { text: "Thresholds" }), h("table", {}, rep.Checks.map((c) => h("tr", {}, h("td", { text: c.Threshold || c.threshold || JSON.stringify(c) }), h("td", {}, verdict(c.Passed || c.passed ? "pass" : "fail"))))));
      }
      if (rep && (rep.Errors || []).length) {
        parts.push(h("h2", { text: "Failed requests" }), h("div", { class: "tablewrap" }, h("table", {},
          h("tr", {}, ["route", "status", "reason", "count"].map((t) => h("th", { text: t }))),
          rep.Errors.slice(0, 20).map((e) => h("tr", {}, h("td", { text: e.route }), h("td", { text: e.status }), h("td", { text: e.reason }), h("td", { class: "num", text: e.count }))))));
      }
      if (rep && rep.Error) parts.unshift(h("div", { class: "error", text: rep.Error }));
      tables.replaceChildren(...parts);
    }

    let pending = false;
    function schedule() {
      if (pending) return;
      pending = true;
      setTimeout(() => { pending = false; render(); }, 250);
    }

    if (!sum.live) { // a past run: its report
      rep = await api("GET", "api/runs/" + encodeURIComponent(id) + "/report");
      fromReport(tl, rep);
      render();
      return;
    }
    let lastSeq = 0;
    const es = new EventSource("api/runs/" + encodeURIComponent(id) + "/events");
    es.addEventListener("open", () => setConn(true, "live"));
    es.addEventListener("observation", (ev) => {
      const o = JSON.parse(ev.data);
      if (o.seq <= lastSeq) return; // a replay after a reconnect
      lastSeq = o.seq;
      fromObservation(tl, o);
      schedule();
    });
    es.addEventListener("report", (ev) => {
      const d = JSON.parse(ev.data);
      rep = d.report;
      state = d.state;
      schedule();
    });
    es.addEventListener("end", async () => {
      es.close();
      state = "done";
      setConn(true, "run ended");
      try { Object.assign(sum, await api("GET", "api/runs/" + encodeURIComponent(id))); rep = await api("GET", "api/runs/" + encodeURIComponent(id) + "/report"); } catch (e) { /* keep what we have */ }
      render();
    });
    es.addEventListener("error", () => { if (es.readyState !== EventSource.CLOSED) setConn(false, "reconnecting…"); });
    cleanup.push(() => es.close());
    const lt = setInterval(async () => {
      try { log.textContent = (await api("GET", "api/runs/" + encodeURIComponent(id) + "/progress")).join("\n"); log.scrollTop = log.scrollHeight; } catch (e) { /* shown by the stream */ }
    }, 2000);
    cleanup.push(() => clearInterval(lt));
    render();
  }

  function usersControl(id) {
    const input = h("input", { type: "number", min: 0, style: "width:7em", placeholder: "users" });
    return h("span", { class: "toolbar" }, input, h("button", { onclick: async () => {
      try { await api("POST", "api/runs/" + encodeURIComponent(id) + "/users?amount=" + encodeURIComponent(input.value)); input.value = ""; } catch (e) { alert(e.message); }
    }, text: "Set users" }));
  }

  // ---- compare ----
  function answerChange(c) {
    const d = c.b.supported_users - c.a.supported_users;
    const pct = c.a.supported_users ? " (" + (d >= 0 ? "+" : "") + (100 * d / c.a.supported_users).toFixed(1) + " %)" : "";
    const why = c.a.at_least || c.b.at_least ? "a lower bound on one side: the difference is not measured"
      : c.brackets_overlap ? "the brackets overlap: within the search's precision" : "the brackets do not overlap: a real change";
    return "Supported users: " + (d >= 0 ? "+" : "") + d + pct + "; " + why + ".";
  }
  async function comparePage(a, b) {
    main.append(h("h1", { text: "Compare two runs" }));
    const runs = (await api("GET", "api/runs")).filter((r) => r.state === "finished" || r.state === "done");
    const sel = (name, v) => h("select", { name }, h("option", { value: "", text: "choose a run" }), runs.map((r) => h("option", { value: r.id, text: r.id + ": " + (r.answer || r.name), selected: r.id === v })));
    const sa = sel("a", a), sb = sel("b", b);
    const out = h("div");
    main.append(h("div", { class: "toolbar" }, h("label", {}, "A", sa), h("label", {}, "B", sb),
      h("button", { class: "primary", onclick: () => { location.hash = "#/compare?a=" + encodeURIComponent(sa.value) + "&b=" + encodeURIComponent(sb.value); }, text: "Compare" })), out);
    if (!a || !b) return;
    const c = await api("GET", "api/compare?a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b));
    const ans = (r) => r.kind === "plan" ? "(a plan)" : (r.at_least ? "≥ " : "") + r.supported_users + " [" + r.bracket[0] + ", " + (r.bracket[1] || "∞") + ")";
    const cell = (d, unit) => {
      const t = (d.change >= 0 ? "+" : "") + fmt(d.change) + unit + (d.measured ? " [" + fmt(d.interval[0]) + ", " + fmt(d.interval[1]) + "]" : " (too few seconds)");
      return h("td", { class: "num " + (d.significant ? "sig" : ""), text: t + (d.measured ? (d.significant ? " significant" : " noise") : "") });
    };
    out.append(h("div", { class: "tablewrap" }, h("table", {},
      h("tr", {}, ["", "A: " + c.a.name, "B: " + c.b.name].map((t) => h("th", { text: t }))),
      h("tr", {}, h("td", { text: "supported users [bracket)" }), h("td", { text: ans(c.a) }), h("td", { text: ans(c.b) })),
      h("tr", {}, h("td", { text: "outcome" }), h("td", { text: c.a.outcome }), h("td", { text: c.b.outcome })),
      h("tr", {}, h("td", { text: "compared over" }), h("td", { text: c.a.window + " (" + c.a.seconds + " s)" }), h("td", { text: c.b.window + " (" + c.b.seconds + " s)" })))),
      h("p", { class: "hint", text: c.answer !== undefined && c.a.kind !== "plan" && c.b.kind !== "plan" ? answerChange(c) : "" }),
      (c.notes || []).map((n) => h("p", { class: "hint", text: "Note: " + n })),
      h("p", { class: "hint", text: "p50 and p99 are the count-weighted means over the seconds; the change is B − A with its 95 % bootstrap interval over the per-second intervals." }),
      h("div", { class: "tablewrap" }, h("table", {},
        h("tr", {}, ["key", "requests A / B", "p50 A", "p50 B", "p50 change (ms)", "p99 A", "p99 B", "p99 change (ms)", "errors A %", "errors B %", "error change (pp)"].map((t) => h("th", { text: t }))),
        (c.keys || []).map((k) => h("tr", {}, h("td", { text: k.key }), h("td", { class: "num", text: k.count_a + " / " + k.count_b }),
          h("td", { class: "num", text: fmt(k.p50_ms.a) }), h("td", { class: "num", text: fmt(k.p50_ms.b) }), cell(k.p50_ms, ""),
          h("td", { class: "num", text: fmt(k.p99_ms.a) }), h("td", { class: "num", text: fmt(k.p99_ms.b) }), cell(k.p99_ms, ""),
          h("td", { class: "num", text: fmt(k.error_pct.a) }), h("td", { class: "num", text: fmt(k.error_pct.b) }), cell(k.error_pct, ""))))),
      h("div", { class: "toolbar" },
        h("a", { class: "button", target: "_blank", href: "api/compare?format=md&a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b), text: "markdown (for a pull request)" }),
        h("a", { class: "button", target: "_blank", href: "api/compare?format=html&a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b), text: "HTML" })));
  }

  route();
})();
