// The views. Each has a title, render(container) that loads its data from the API, and
// onEvent(event) for the live subscription (most simply reload themselves, debounced).
import { all, api } from "./api.js";
import { chart } from "./charts.js";
import { Gantt } from "./gantt.js";
import {
  cards, dataTable, explain, field, fmtBound, fmtMs, fmtNum, fmtRate, fmtTime, guarded, h, notify, select, statusBadge, writeButton,
} from "./ui.js";

const mono = (text) => h("code", {}, text ?? "—");
const errorText = (e) => (e ? `${e.type || ""}${e.message ? ": " + e.message : ""}` : "—");
const short = (text, n = 90) => (text && text.length > n ? text.slice(0, n - 1) + "…" : text);

/** Base for a view: one container, a debounced reload for live events. */
class View {
  constructor(title, categories) {
    this.title = title;
    this.categories = categories; // event type prefixes that make this view reload
    this.container = null;
    this.pending = null;
  }

  async render(container) {
    this.container = container;
    await this.load();
  }

  /**
   * Replaces the view's content; null parts (a closed form, a hidden button) are left out.
   * A live reload must not pull the rug: open details stay open and focus stays on its control.
   */
  show(...parts) {
    const keyOf = (node) => {
      if (node.id) return `#${node.id}`;
      const row = node.closest("[data-id]");
      return `${row ? row.dataset.id : ""}|${node.tagName}|${node.getAttribute("aria-label") || node.textContent.slice(0, 40)}`;
    };
    const open = new Set([...this.container.querySelectorAll("details[open]")].map((d) => keyOf(d.querySelector("summary") || d)));
    const active = this.container.contains(document.activeElement) ? keyOf(document.activeElement) : null;
    this.container.replaceChildren(...parts.filter((p) => p !== null && p !== undefined && p !== false));
    for (const summary of this.container.querySelectorAll("details > summary")) {
      if (open.has(keyOf(summary))) summary.parentElement.open = true;
    }
    if (active) {
      const again = [...this.container.querySelectorAll("button, a, input, select, summary, [tabindex]")].find((n) => keyOf(n) === active);
      again?.focus();
    }
  }

  onEvent(event) {
    if (this.categories.some((c) => event.type.startsWith(c))) this.reloadSoon();
  }

  reloadSoon(delay = 400) {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.container?.isConnected && this.refresh(), delay);
  }

  /** Loads again, reporting a failure as a notice (for event handlers, which nobody awaits). */
  refresh() {
    return this.load().catch((err) => notify(err.message, "error"));
  }

  /** Runs a write and reloads: the live event would too, but the operator sees it at once. */
  act(run, done) {
    return async () => {
      await run();
      if (done) notify(done, "ok");
      await this.load();
    };
  }
}

/** One of the batch endpoints (``{"items": [{"id"}, ...]}``), for up to 100 ids. */
const batch = (path, ids) => api(path, { method: "POST", body: { items: ids.map((id) => ({ id })) } });

function batchDone(result, verb) {
  const failed = result.results.filter((r) => r.status === "error");
  return failed.length ? `${result.succeeded} ${verb}, ${result.failed} failed: ${failed[0].error?.message}`
    : `${result.succeeded} ${verb}.`;
}

// --- overview -----------------------------------------------------------------------------------

export class Overview extends View {
  constructor() {
    super("Overview", ["error.", "schedule.", "webhook.", "system.", "metrics."]);
    this.feed = h("ol", { class: "feed", "aria-label": "Events as they arrive", "data-feed": "" });
  }

  async load() {
    const [overview, health, events] = await Promise.all([
      api("dashboard/overview"),
      api("dashboard/health").catch((err) => ({ status: "degraded", components: [], error: err.message })),
      api("events", { query: { limit: 15 } }),
    ]);
    const m = overview.metrics;
    const breakerActions = (row) => [
      writeButton("Reset", this.act(() => api(`errors/circuit-breaker/${row.service}`, { method: "POST", body: { action: "reset" } }), `${row.service}: reset.`)),
      writeButton("Force open", this.act(() => api(`errors/circuit-breaker/${row.service}`, { method: "POST", body: { action: "force_open" } }), `${row.service}: forced open.`)),
      writeButton("Force close", this.act(() => api(`errors/circuit-breaker/${row.service}`, { method: "POST", body: { action: "force_close" } }), `${row.service}: forced closed.`)),
    ];
    if (!this.feed.children.length) {
      for (const event of events.items) this.feed.append(feedItem(event));
    }
    this.show(
      h("p", { class: "muted" }, `Last 24 hours, ${fmtTime(m.from)} – ${fmtTime(m.to)}.`),
      cards([
        ["API requests", fmtNum(m.api.requests), "requests"],
        ["API 5xx rate", fmtRate(m.api.error_rate), "error-rate"],
        ["API latency p50 / p95", `${fmtBound(m.api.latency, "p50")} / ${fmtBound(m.api.latency, "p95")}`, "api-latency"],
        ["Retry jobs created", fmtNum(m.retries.created), "retries"],
        ["Retry success", fmtRate(m.retries.success_rate), "retry-success"],
        ["Open dead letters", fmtNum(m.dead_letters_open), "dlq"],
        ["Schedule runs / failures", `${fmtNum(m.schedules.runs)} / ${fmtNum(m.schedules.failures)}`, "runs"],
        ["Webhooks delivered / failed", `${fmtNum(m.webhooks.delivered)} / ${fmtNum(m.webhooks.failed)}`, "webhooks"],
        ["Webhook latency p50 / p95", `${fmtBound(m.webhooks.latency, "p50")} / ${fmtBound(m.webhooks.latency, "p95")}`, "webhook-latency"],
        ["Health", health.status, "health"],
      ]),
      dataTable({ name: "breakers", title: "Circuit breakers", rows: overview.breakers, rowId: (r) => r.service,
        columns: [{ key: "service", label: "Service" }, { key: "state", label: "State", cell: (r) => statusBadge(r.state) }],
        actions: breakerActions, empty: "No breaker has seen a call yet." }),
      dataTable({ name: "health", title: `Dependencies (${health.status})`, rows: health.components, rowId: (r) => r.name,
        columns: [{ key: "kind", label: "Kind" }, { key: "name", label: "Name" }, { key: "resource", label: "Resource", cell: (r) => mono(r.resource) },
          { key: "status", label: "Status", cell: (r) => statusBadge(r.status) }], empty: health.error || "No components." }),
      dataTable({ name: "next-runs", title: "Next runs", rows: overview.next_runs, rowId: (r) => r.schedule_id,
        columns: [{ key: "name", label: "Schedule" }, { key: "next_run_at", label: "Next run", cell: (r) => fmtTime(r.next_run_at) }],
        empty: "No schedule is due." }),
      h("h3", {}, "Live events"),
      this.feed,
    );
  }

  onEvent(event) {
    this.feed.prepend(feedItem(event));
    while (this.feed.children.length > 50) this.feed.lastChild.remove();
    super.onEvent(event);
  }
}

function feedItem(event) {
  return h("li", { "data-event": event.id }, h("span", { class: "muted" }, fmtTime(event.timestamp)), " ",
    h("strong", {}, event.type), " ", h("span", { class: "mono" }, short(JSON.stringify(event.data ?? {}), 120)));
}

// --- errors (retry jobs) -------------------------------------------------------------------------

const JOB_STATUSES = [["", "Any status"], ["scheduled", "Scheduled"], ["running", "Running"], ["succeeded", "Succeeded"],
  ["dead_lettered", "Dead-lettered"], ["resolved", "Resolved"]];

export class Errors extends View {
  constructor() {
    super("Errors", ["error."]);
    this.filters = { status: "", service: "" };
  }

  async load() {
    const [jobs, stats] = await Promise.all([
      api("errors/retry", { query: { ...this.filters, limit: 100 } }),
      api("errors/stats"),
    ]);
    const status = select("status", JOB_STATUSES, this.filters.status);
    // no pattern copied from the API here: it had drifted (it refused the schedule:sch_… services
    // Conductor makes itself); the API checks the name and the view explains its answer
    const service = h("input", { name: "service", value: this.filters.service, placeholder: "e.g. payments or schedule:sch_…", maxlength: "64" });
    const form = h("form", { class: "filters", "aria-label": "Filter retry jobs" },
      field("Status", status), field("Service", service), h("button", { type: "submit" }, "Apply"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.filters = { status: status.value, service: service.value.trim() };
      this.refresh();
    });
    this.show(
      cards([
        ["Created (24 h)", fmtNum(stats.counts.created)], ["Succeeded", fmtNum(stats.counts.succeeded)],
        ["Dead-lettered", fmtNum(stats.counts.dead_lettered)], ["Resolved", fmtNum(stats.counts.resolved)],
        ["Success rate", fmtRate(stats.success_rate)], ["Mean attempts to success", stats.mean_attempts_to_success ?? "—"],
      ]),
      form,
      dataTable({
        name: "retry-jobs", title: "Retry jobs", rows: jobs.items,
        columns: [
          { key: "id", label: "Id", cell: (r) => mono(r.id) },
          { key: "service", label: "Service" },
          { key: "status", label: "Status", cell: (r) => statusBadge(r.status) },
          { key: "attempt_count", label: "Attempts", raw: (r) => r.attempt_count, cell: attemptsCell },
          { key: "error", label: "Error", raw: (r) => errorText(r.error), cell: (r) => short(errorText(r.error)) },
          { key: "next_attempt_at", label: "Next attempt", cell: (r) => fmtTime(r.next_attempt_at) },
          { key: "updated_at", label: "Updated", cell: (r) => fmtTime(r.updated_at) },
        ],
        actions: (r) => [
          r.status === "dead_lettered" && r.dead_letter_id
            ? writeButton("Retry", this.act(() => api(`dlq/${r.dead_letter_id}/replay`, { method: "POST" }), `${r.id}: retried as a new job.`)) : null,
          ["scheduled", "running", "dead_lettered"].includes(r.status)
            ? writeButton("Resolve", this.act(() => api("errors/resolve", { method: "POST", body: { id: r.id } }), `${r.id}: resolved.`)) : null,
        ],
        bulk: [
          { label: "Retry selected", run: async (rows) => {
            const letters = rows.filter((r) => r.status === "dead_lettered" && r.dead_letter_id);
            if (!letters.length) throw new Error("Only dead-lettered jobs can be retried.");
            notify(batchDone(await batch("batch/dlq/replay", letters.map((r) => r.dead_letter_id)), "retried"), "ok");
            await this.load();
          } },
          { label: "Resolve selected", run: async (rows) => {
            notify(batchDone(await batch("batch/errors/resolve", rows.map((r) => r.id)), "resolved"), "ok");
            await this.load();
          } },
        ],
        empty: "No retry jobs match.",
      }),
      jobs.next_cursor ? h("p", { class: "muted" }, "Showing the newest 100; narrow the filters to see others.") : null,
    );
  }
}

// Lists carry no attempts (a page of jobs with all of theirs could pass Lambda's 6 MB limit):
// they are read when the row is opened.
function attemptsCell(job) {
  if (!job.attempt_count) return "0";
  const details = h("details", {}, h("summary", {}, `${job.attempt_count} attempt${job.attempt_count === 1 ? "" : "s"}`));
  details.addEventListener("toggle", guarded(async () => {
    if (!details.open || details.dataset.loaded) return;
    const attempts = await all(`errors/retry/${job.id}/attempts`, {}, 200);
    details.dataset.loaded = "1";
    details.append(h("ol", { class: "attempts" }, attempts.map((a) => h("li", {},
      statusBadge(a.outcome), ` ${fmtTime(a.started_at)}, ${fmtMs(a.duration_ms)}`,
      a.status_code ? `, HTTP ${a.status_code}` : "",
      a.error_type ? `, ${a.error_type}: ${short(a.error_message || "", 80)}` : "",
      a.next_delay_seconds !== null ? `, next in ${a.next_delay_seconds} s` : ""))));
  }));
  return details;
}

// --- dead letters ---------------------------------------------------------------------------------

export class DeadLetters extends View {
  constructor() {
    super("Dead letters", ["error.", "webhook.failed", "schedule.failed"]);
    this.status = "open";
    this.fingerprint = null;
  }

  async load() {
    const items = await all("dlq", { status: this.status }, 500);
    const groups = new Map();
    for (const item of items) {
      const group = groups.get(item.fingerprint) || { fingerprint: item.fingerprint, count: 0, services: new Set(),
        source: item.source, error: errorText(item.error), first_seen: item.created_at, last_seen: item.created_at, ids: [] };
      group.count += 1;
      group.services.add(item.service);
      group.ids.push(item.id);
      if (item.created_at < group.first_seen) group.first_seen = item.created_at;
      if (item.created_at > group.last_seen) group.last_seen = item.created_at;
      groups.set(item.fingerprint, group);
    }
    const groupRows = [...groups.values()].map((g) => ({ ...g, services: [...g.services].join(", ") }))
      .sort((a, b) => b.count - a.count);
    const shown = this.fingerprint ? items.filter((i) => i.fingerprint === this.fingerprint) : items;
    const statusPicker = select("status", [["open", "Open"], ["resolved", "Resolved"], ["replayed", "Replayed"]], this.status);
    statusPicker.addEventListener("change", () => {
      this.status = statusPicker.value;
      this.fingerprint = null;
      this.refresh();
    });
    const isOpen = this.status === "open";
    const bulk = (path, ids, verb) => async () => {
      notify(batchDone(await batch(path, ids), verb), "ok");
      await this.load();
    };
    this.show(
      h("div", { class: "filters" }, field("Status", statusPicker)),
      items.more ? h("p", { class: "muted", role: "note" }, `Grouped from the newest ${items.length} ${this.status} dead letters; resolve or replay some to see older ones.`) : null,
      dataTable({
        name: "dead-letter-groups", title: "Grouped by error fingerprint", rows: groupRows, rowId: (g) => g.fingerprint,
        columns: [
          { key: "fingerprint", label: "Fingerprint", cell: (g) => mono(g.fingerprint) },
          { key: "count", label: "Count" },
          { key: "services", label: "Services" },
          { key: "source", label: "Source" },
          { key: "error", label: "Error", cell: (g) => short(g.error) },
          { key: "last_seen", label: "Last seen", cell: (g) => fmtTime(g.last_seen) },
        ],
        actions: (g) => [
          h("button", { type: "button", class: "quiet", "aria-pressed": String(this.fingerprint === g.fingerprint),
            onclick: () => { this.fingerprint = this.fingerprint === g.fingerprint ? null : g.fingerprint; this.refresh(); } },
          this.fingerprint === g.fingerprint ? "Show all" : "Show"),
          isOpen ? writeButton("Replay group", bulk("batch/dlq/replay", g.ids, "replayed")) : null,
          isOpen ? writeButton("Resolve group", bulk("batch/dlq/resolve", g.ids, "resolved")) : null,
        ],
        empty: `No ${this.status} dead letters.`,
      }),
      dataTable({
        name: "dead-letters", title: this.fingerprint ? `Dead letters with fingerprint ${this.fingerprint}` : "Dead letters",
        rows: shown,
        columns: [
          { key: "id", label: "Id", cell: (r) => mono(r.id) },
          { key: "service", label: "Service" },
          { key: "source", label: "Source" },
          { key: "attempts", label: "Attempts" },
          { key: "error", label: "Error", raw: (r) => errorText(r.error), cell: (r) => h("details", {},
            h("summary", {}, short(errorText(r.error), 70)), h("pre", { class: "mono" }, JSON.stringify(r.payload, null, 2))) },
          { key: "created_at", label: "Created", cell: (r) => fmtTime(r.created_at) },
          { key: "status", label: "Status", cell: (r) => statusBadge(r.status) },
        ],
        actions: (r) => (r.status === "open" ? [
          writeButton("Replay", this.act(() => api(`dlq/${r.id}/replay`, { method: "POST" }), `${r.id}: replayed.`)),
          writeButton("Resolve", this.act(() => api(`dlq/${r.id}/resolve`, { method: "POST", body: {} }), `${r.id}: resolved.`)),
        ] : []),
        bulk: isOpen ? [
          { label: "Replay selected", run: (rows) => bulk("batch/dlq/replay", rows.map((r) => r.id), "replayed")() },
          { label: "Resolve selected", run: (rows) => bulk("batch/dlq/resolve", rows.map((r) => r.id), "resolved")() },
        ] : [],
        empty: `No ${this.status} dead letters.`,
      }),
    );
  }
}

// --- schedules -----------------------------------------------------------------------------------

const OUTCOME = { "schedule.executed": "succeeded", "schedule.failed": "failed", "schedule.skipped": "skipped" };

export class Schedules extends View {
  constructor() {
    super("Schedules", ["schedule.created", "schedule.updated", "schedule.deleted", "schedule.paused", "schedule.resumed"]);
    this.gantt = new Gantt();
    this.names = new Map();
    this.editing = null; // null: form closed; {}: new; schedule: edit
    this.formNode = null;
    this.loadedFrom = null; // past runs are loaded from here on; panning earlier loads more
    this.gantt.onRange = (from) => {
      if (this.loadedFrom === null || from >= this.loadedFrom) return;
      clearTimeout(this.rangeTimer);
      this.rangeTimer = setTimeout(() => this.loadEarlier(from).catch((err) => notify(err.message, "error")), 400);
    };
  }

  async load() {
    const [schedules, board] = await Promise.all([all("schedules", {}, 200), api("dashboard/schedules")]);
    this.names = new Map(schedules.map((sc) => [sc.id, sc.name]));
    this.loadedFrom = Date.parse(board.from);
    this.gantt.setRows(schedules.map((sc) => ({ id: sc.id, name: sc.name })));
    this.gantt.setBars(board.recent.map((e) => this.barFrom(e)).filter(Boolean), false);
    this.gantt.setBars(schedules.flatMap((sc) => (sc.enabled ? sc.next_runs : []).map((at) => ({
      id: `next-${sc.id}-${at}`, scheduleId: sc.id, name: sc.name, status: "upcoming",
      start: Date.parse(at), end: Date.parse(at) + 1000 }))), true);
    this.show(
      h("div", { class: "table-head" }, writeButton("New schedule", () => this.openForm({}))),
      this.editing ? (this.formNode ||= this.form(this.editing)) : null,
      dataTable({
        name: "schedules", title: "Schedules", rows: schedules,
        columns: [
          { key: "name", label: "Name" },
          { key: "expression", label: "Expression", cell: (r) => mono(r.expression) },
          { key: "timezone", label: "Time zone" },
          { key: "enabled", label: "State", raw: (r) => (r.enabled ? "active" : "paused"), cell: (r) => statusBadge(r.enabled ? "active" : "paused") },
          { key: "next_runs", label: "Next run", raw: (r) => r.next_runs[0] || null, cell: (r) => fmtTime(r.enabled ? r.next_runs[0] : null) },
          { key: "target", label: "Target", raw: (r) => JSON.stringify(r.target), cell: (r) => short(targetText(r.target), 50) },
        ],
        actions: (r) => [
          writeButton("Run now", this.act(() => api(`schedules/${r.id}/execute`, { method: "POST" }), `${r.name}: run requested.`),
            { "aria-label": `Run ${r.name} now` }),
          r.enabled
            ? writeButton("Pause", this.act(() => api(`schedules/${r.id}/pause`, { method: "POST", body: { note: "paused from the dashboard" } }), `${r.name}: paused.`))
            : writeButton("Resume", this.act(() => api(`schedules/${r.id}/resume`, { method: "POST" }), `${r.name}: resumed.`)),
          writeButton("Edit", () => this.openForm(r)),
          writeButton("Delete", async () => {
            if (!window.confirm(`Delete the schedule ${r.name}?`)) return;
            await api(`schedules/${r.id}`, { method: "DELETE" });
            notify(`${r.name}: deleted.`, "ok");
            await this.load();
          }, { class: "danger" }),
        ],
        bulk: [{ label: "Run selected now", run: async (rows) => {
          const result = await batch("batch/schedules/execute", rows.map((r) => r.id));
          notify(batchDone(result, "started"), "ok");
        } }],
        empty: "No schedules yet.",
      }),
      schedules.more ? h("p", { class: "muted", role: "note" }, `Showing the first ${schedules.length} schedules.`) : null,
      h("h3", {}, "Timeline"),
      this.gantt.element,
    );
    this.gantt.render();
  }

  /** The runs between ``from`` and what is loaded (one request; the API caps a range at 400 days). */
  async loadEarlier(from) {
    if (this.loadedFrom === null || from >= this.loadedFrom) return;
    const to = this.loadedFrom;
    const board = await api("dashboard/schedules", { query: { from: new Date(from).toISOString(), to: new Date(to).toISOString() } });
    this.loadedFrom = Math.min(this.loadedFrom, from);
    this.gantt.addBars(board.recent.map((e) => this.barFrom(e)).filter(Boolean));
  }

  barFrom(event) {
    const status = OUTCOME[event.type];
    const data = event.data || {};
    if (!status || !data.schedule_id) return null;
    const end = Date.parse(event.timestamp);
    return { id: data.execution_id || event.id, scheduleId: data.schedule_id, name: this.names.get(data.schedule_id) || data.schedule_id,
      status, start: end - (data.duration_ms || 0), end, trigger: data.trigger, error: data.error?.message || data.error };
  }

  onEvent(event) {
    const bar = this.barFrom(event);
    if (bar) {
      this.gantt.addBar(bar); // the run appears at once; next runs move on the next load
      this.reloadSoon(1500);
      return;
    }
    super.onEvent(event);
  }

  openForm(schedule) {
    this.editing = schedule;
    this.formNode = null; // built afresh for this schedule, then kept while live updates reload
    this.refresh().then(() => this.container.querySelector("#schedule-name")?.focus());
  }

  form(schedule) {
    const isNew = !schedule.id;
    const target = schedule.target || { type: "http", method: "POST", url: "" };
    const name = h("input", { id: "schedule-name", required: true, maxlength: 200, value: schedule.name || "" });
    const expression = h("input", { id: "schedule-expression", required: true, value: schedule.expression || "rate(5 minutes)",
      "aria-describedby": "schedule-preview" });
    const timezone = h("input", { id: "schedule-timezone", required: true, value: schedule.timezone || "UTC" });
    const targetType = select("target_type", [["http", "HTTP request"], ["event", "Conductor event"]], target.type === "event" ? "event" : "http");
    const url = h("input", { id: "schedule-url", value: target.url || "", placeholder: "https://…" });
    const eventType = h("input", { id: "schedule-event", value: target.event_type || "", placeholder: "custom.nightly" });
    const overlap = select("overlap_policy", [["skip", "Skip"], ["allow", "Allow"], ["buffer_one", "Buffer one"]], schedule.overlap_policy || "skip");
    const preview = h("ol", { id: "schedule-preview", class: "preview", "aria-live": "polite", "aria-label": "Next run times" });
    const problem = h("p", { class: "error-text", role: "alert" });
    let timer = null;
    let asked = 0; // only the newest question's answer is shown, whatever order answers come in
    const refreshPreview = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const question = ++asked;
        try {
          const result = await api("schedules/preview", { method: "POST", body: { expression: expression.value.trim(), timezone: timezone.value.trim(), count: 5 } });
          if (question !== asked) return;
          preview.replaceChildren(...result.next_runs.map((t) => h("li", {}, `${fmtTime(t)} (${t})`)));
          problem.textContent = "";
        } catch (err) {
          if (question !== asked) return;
          preview.replaceChildren();
          problem.textContent = explain(err);
        }
      }, 250);
    };
    expression.addEventListener("input", refreshPreview);
    timezone.addEventListener("input", refreshPreview);
    refreshPreview();
    const form = h("form", { class: "panel", "aria-label": isNew ? "New schedule" : `Edit ${schedule.name}`, "data-form": "schedule" },
      h("h3", {}, isNew ? "New schedule" : `Edit ${schedule.name}`),
      h("div", { class: "form-grid" },
        field("Name", name), field("Expression", expression, "cron(…), rate(…) or at(…)"), field("Time zone", timezone, "IANA, e.g. Europe/Berlin"),
        field("Target", targetType), field("URL (HTTP target)", url), field("Event type (event target)", eventType),
        field("When a run is still going", overlap)),
      h("p", { class: "muted" }, "Next runs:"), preview, problem,
      h("div", { class: "form-actions" }, h("button", { type: "submit" }, isNew ? "Create" : "Save"),
        h("button", { type: "button", class: "quiet", onclick: () => { this.editing = null; this.formNode = null; this.refresh(); } }, "Cancel")));
    form.addEventListener("submit", guarded(async (e) => {
      e.preventDefault();
      const body = { name: name.value.trim(), expression: expression.value.trim(), timezone: timezone.value.trim(), overlap_policy: overlap.value,
        target: targetType.value === "event" ? { type: "event", event_type: eventType.value.trim() } : { ...target, type: "http", url: url.value.trim() } };
      if (targetType.value === "http") delete body.target.event_type;
      if (targetType.value === "http" && target.type !== "http") delete body.target.data;
      try {
        if (isNew) await api("schedules", { method: "POST", body });
        else await api(`schedules/${schedule.id}`, { method: "PUT", body: { ...writableFields(schedule), ...body, version: schedule.version } });
      } catch (err) {
        problem.textContent = explain(err);
        return;
      }
      notify(`${body.name}: ${isNew ? "created" : "saved"}.`, "ok");
      this.editing = null;
      this.formNode = null;
      await this.load();
    }));
    return form;
  }
}

/** The writable fields of a schedule, for a full PUT that changes only what the form shows. */
function writableFields(sc) {
  const keep = ["name", "description", "expression", "timezone", "start_at", "end_at", "jitter_seconds", "overlap_policy",
    "catchup", "catchup_window_seconds", "enabled", "target", "retry_policy", "tags"];
  return Object.fromEntries(keep.filter((k) => sc[k] !== null && sc[k] !== undefined).map((k) => [k, sc[k]]));
}

function targetText(target) {
  if (target.type === "http") return `${target.method} ${target.url}`;
  if (target.type === "event") return `event ${target.event_type}`;
  return `sqs ${target.queue_url}`;
}

// --- webhooks ------------------------------------------------------------------------------------

export class Webhooks extends View {
  constructor() {
    super("Webhooks", ["webhook."]);
    this.selected = null;
    this.secret = null; // {id, secret}: shown once, after creation or rotation
    this.creating = false;
    this.formNode = null;
  }

  async load() {
    const endpoints = await all("webhooks", {}, 200);
    if (this.selected && !endpoints.some((e) => e.id === this.selected)) this.selected = null;
    const deliveries = this.selected ? await api(`webhooks/${this.selected}/deliveries`, { query: { limit: 100 } }) : null;
    this.show(
      h("div", { class: "table-head" }, writeButton("New endpoint", () => { this.creating = true; this.formNode = null; this.refresh(); })),
      this.secret ? h("div", { class: "panel", role: "alert" },
        h("p", {}, `Signing secret for ${this.secret.id}. It is shown only now: store it with the receiver.`),
        h("p", { class: "secret", "data-secret": "" }, this.secret.secret),
        h("button", { type: "button", class: "quiet", onclick: () => { this.secret = null; this.refresh(); } }, "I have stored it")) : null,
      this.creating ? (this.formNode ||= this.form()) : null,
      dataTable({
        name: "webhooks", title: "Endpoints", rows: endpoints,
        columns: [
          { key: "url", label: "URL", cell: (r) => mono(r.url) },
          { key: "event_types", label: "Events", raw: (r) => r.event_types.join(" "), cell: (r) => r.event_types.join(", ") },
          { key: "enabled", label: "State", raw: (r) => (r.enabled ? "enabled" : `disabled: ${r.disabled_reason || ""}`),
            cell: (r) => (r.enabled ? statusBadge("enabled") : h("span", {}, statusBadge("disabled"), " ", r.disabled_reason || "")) },
          { key: "consecutive_failures", label: "Failures in a row" },
        ],
        actions: (r) => [
          h("button", { type: "button", class: "quiet", "aria-pressed": String(this.selected === r.id),
            onclick: () => { this.selected = r.id; this.refresh(); } }, "Deliveries"),
          writeButton("Send test", this.act(() => api(`webhooks/${r.id}/test`, { method: "POST" }), "Test event sent.")),
          writeButton("Rotate secret", async () => {
            if (!window.confirm("Rotate the signing secret? The old one keeps working for 24 hours.")) return;
            const rotated = await api(`webhooks/${r.id}/rotate-secret`, { method: "POST" });
            this.secret = { id: r.id, secret: rotated.secret };
            await this.load();
          }),
        ],
        empty: "No webhook endpoints yet.",
      }),
      deliveries ? dataTable({
        name: "deliveries", title: "Delivery log", rows: deliveries.items,
        columns: [
          { key: "id", label: "Id", cell: (r) => mono(r.id) },
          { key: "event_type", label: "Event" },
          { key: "status", label: "Status", cell: (r) => statusBadge(r.status) },
          { key: "attempt_count", label: "Attempts", cell: (r) => deliveryAttempts(r) },
          { key: "next_attempt_at", label: "Next attempt", cell: (r) => fmtTime(r.next_attempt_at) },
          { key: "created_at", label: "Created", cell: (r) => fmtTime(r.created_at) },
        ],
        actions: (r) => [writeButton("Redeliver", this.act(() => api(`webhooks/deliveries/${r.id}/redeliver`, { method: "POST" }), `${r.id}: queued again.`))],
        empty: "No deliveries to this endpoint yet.",
      }) : h("p", { class: "muted" }, "Choose an endpoint's Deliveries to see its delivery log."),
    );
  }

  form() {
    const url = h("input", { id: "webhook-url", required: true, type: "url", placeholder: "https://…/hooks" });
    const types = h("input", { id: "webhook-events", required: true, value: "*", "aria-describedby": "webhook-events-hint" });
    const description = h("input", { id: "webhook-description", maxlength: 500 });
    const problem = h("p", { class: "error-text", role: "alert" });
    const form = h("form", { class: "panel", "aria-label": "New endpoint" },
      h("h3", {}, "New endpoint"),
      h("div", { class: "form-grid" }, field("URL", url), field("Event types", types, "space-separated: *, schedule.*, error.dead_lettered"),
        field("Description", description)),
      problem,
      h("div", { class: "form-actions" }, h("button", { type: "submit" }, "Create"),
        h("button", { type: "button", class: "quiet", onclick: () => { this.creating = false; this.formNode = null; this.refresh(); } }, "Cancel")));
    types.nextElementSibling.id = "webhook-events-hint";
    form.addEventListener("submit", guarded(async (e) => {
      e.preventDefault();
      try {
        const created = await api("webhooks", { method: "POST", body: {
          url: url.value.trim(), event_types: types.value.split(/[\s,]+/).filter(Boolean), description: description.value.trim() || null } });
        this.secret = { id: created.id, secret: created.secret };
        this.selected = created.id;
      } catch (err) {
        problem.textContent = explain(err);
        return;
      }
      this.creating = false;
      this.formNode = null;
      await this.load();
    }));
    return form;
  }
}

function deliveryAttempts(delivery) {
  const details = h("details", {}, h("summary", {}, `${delivery.attempt_count} of ${delivery.max_attempts}`));
  details.addEventListener("toggle", guarded(async () => {
    if (!details.open || details.dataset.loaded) return;
    const full = await api(`webhooks/deliveries/${delivery.id}`);
    details.dataset.loaded = "1";
    details.append(h("ol", { class: "attempts" }, full.attempts.map((a) => h("li", {},
      `${fmtTime(a.started_at)}: `, a.status_code ? `HTTP ${a.status_code}` : errorText(a.error), `, ${fmtMs(a.duration_ms)}`))));
  }));
  return details;
}

// --- analytics -----------------------------------------------------------------------------------

const RANGES = { hour: ["minute", 3600e3], day: ["hour", 86400e3], month: ["day", 30 * 86400e3] };

export class Analytics extends View {
  constructor() {
    super("Analytics", ["metrics.updated"]);
    this.range = "day";
  }

  async load() {
    const [window, span] = RANGES[this.range];
    const to = new Date();
    const query = { window, from: new Date(to - span).toISOString(), to: to.toISOString() };
    const [apiH, retriesH, schedulesH, webhooksH, services, perSchedule, perHook] = await Promise.all([
      ...["api", "retries", "schedules", "webhooks"].map((metric) => api("metrics/history", { query: { ...query, metric } })),
      api("metrics/errors", { query: { from: query.from, to: query.to } }),
      api("metrics/schedules", { query: { from: query.from, to: query.to } }),
      api("metrics/webhooks", { query: { from: query.from, to: query.to } }),
    ]);
    const rows = (history, pick) => history.points.map((p) => ({ window_start: p.window_start, ...pick(p.values, p.percentiles || {}) }));
    const rate = (good, bad) => (good + bad ? good / (good + bad) : null);
    const errorRows = rows(apiH, (v) => ({ requests: v.requests || 0, status_5xx: v.status_5xx || 0,
      error_rate: v.requests ? (v.status_5xx || 0) / v.requests : null }));
    const retryRows = rows(retriesH, (v) => ({ succeeded: v.succeeded || 0, dead_lettered: v.dead_lettered || 0,
      success_rate: rate(v.succeeded || 0, v.dead_lettered || 0) }));
    const runRows = rows(schedulesH, (v) => ({ runs: v.runs || 0, failures: v.failures || 0, skipped: v.skipped || 0 }));
    const latencyRows = rows(webhooksH, (v, p) => ({ delivered: v.delivered || 0, p50_ms: p.latency?.p50_ms ?? null, p95_ms: p.latency?.p95_ms ?? null }));
    const times = (list) => list.map((r) => Date.parse(r.window_start));
    const axis = { from: Date.parse(query.from), to: Date.parse(query.to), step: { minute: 60e3, hour: 3600e3, day: 86400e3 }[window] };
    const pct = (v) => `${Math.round(v * 100)}%`;
    const picker = select("range", [["hour", "Last hour, by minute"], ["day", "Last 24 hours, by hour"], ["month", "Last 30 days, by day"]], this.range);
    picker.addEventListener("change", () => { this.range = picker.value; this.refresh(); });
    const tableOf = (name, title, list, keys) => dataTable({ name, title, rows: list, rowId: (r) => r.window_start,
      columns: [{ key: "window_start", label: "Window" }, ...keys.map((k) => ({ key: k, label: k.replace(/_/g, " ") }))] });
    this.show(
      h("div", { class: "filters" }, field("Range", picker)),
      h("div", { class: "charts" },
        chart({ ...axis, id: "error-rate", title: "API error rate (5xx)", times: times(errorRows), max: 1, format: pct,
          series: [{ name: "5xx share", values: errorRows.map((r) => r.error_rate) }] }),
        chart({ ...axis, id: "retry-success", title: "Retry success", times: times(retryRows), max: 1, format: pct,
          series: [{ name: "succeeded / finished", values: retryRows.map((r) => r.success_rate) }] }),
        chart({ ...axis, id: "schedule-runs", title: "Schedule runs", times: times(runRows), kind: "bars", format: (v) => String(Math.round(v)), minTop: 4,
          series: [{ name: "runs", values: runRows.map((r) => r.runs) }, { name: "failures", values: runRows.map((r) => r.failures) },
            { name: "skipped", values: runRows.map((r) => r.skipped) }] }),
        chart({ ...axis, id: "webhook-latency", title: "Webhook latency", times: times(latencyRows), format: (v) => fmtMs(v), minTop: 100,
          series: [{ name: "p50", values: latencyRows.map((r) => r.p50_ms) }, { name: "p95", values: latencyRows.map((r) => r.p95_ms) }] })),
      h("details", {}, h("summary", {}, "The numbers behind the charts"),
        tableOf("api-history", "API requests", errorRows, ["requests", "status_5xx", "error_rate"]),
        tableOf("retry-history", "Retries", retryRows, ["succeeded", "dead_lettered", "success_rate"]),
        tableOf("schedule-history", "Schedule runs", runRows, ["runs", "failures", "skipped"]),
        tableOf("webhook-history", "Webhook latency", latencyRows, ["delivered", "p50_ms", "p95_ms"])),
      dataTable({ name: "services", title: "Retries by service", rowId: (r) => r.service,
        rows: Object.entries(services.services).map(([service, v]) => ({ service, ...v.counts, success_rate: v.success_rate })),
        columns: [{ key: "service", label: "Service" }, { key: "created", label: "Created" }, { key: "succeeded", label: "Succeeded" },
          { key: "dead_lettered", label: "Dead-lettered" }, { key: "success_rate", label: "Success", cell: (r) => fmtRate(r.success_rate) }] }),
      dataTable({ name: "schedule-stats", title: "Runs by schedule", rows: perSchedule.items,
        columns: [{ key: "id", label: "Schedule", cell: (r) => mono(r.id) }, { key: "runs", label: "Runs" }, { key: "failures", label: "Failures" },
          { key: "success_rate", label: "Success", cell: (r) => fmtRate(r.success_rate) }, { key: "mean_ms", label: "Mean", cell: (r) => fmtMs(r.mean_ms) }] }),
      dataTable({ name: "webhook-stats", title: "Deliveries by endpoint", rows: perHook.items,
        columns: [{ key: "id", label: "Endpoint", cell: (r) => mono(r.id) }, { key: "delivered", label: "Delivered" }, { key: "failed", label: "Failed" },
          { key: "success_rate", label: "Success", cell: (r) => fmtRate(r.success_rate) }, { key: "mean_ms", label: "Mean", cell: (r) => fmtMs(r.mean_ms) }] }),
    );
  }
}
