// Schedules: the Gantt timeline, the form with a live preview, pause/resume/run/delete.
import { all, api } from "./api.js";
import { headerLines, jsonText, numberOr, parseHeaders, parseJson, zonePicker } from "./forms.js";
import { Gantt } from "./gantt.js";
import { dataTable, explain, field, fmtTime, fmtWhen, guarded, h, menu, notify, select, statusBadge, teach, writeButton } from "./ui.js";
import { mono, named, short, View } from "./view.js";

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
    this.gantt.setBars(
      schedules.flatMap((sc) =>
        (sc.enabled ? sc.next_runs : []).map((at) => ({
          id: `next-${sc.id}-${at}`,
          scheduleId: sc.id,
          name: sc.name,
          status: "upcoming",
          start: Date.parse(at),
          end: Date.parse(at) + 1000,
        })),
      ),
      true,
    );
    if (this.editing && !this.formNode) this.formNode = this.form(this.editing); // kept while open
    this.show(
      h(
        "div",
        { class: "table-head" },
        writeButton("New schedule", () => this.openForm({})),
      ),
      this.editing ? this.formNode : null,
      dataTable({
        name: "schedules",
        title: "Schedules",
        rows: schedules,
        columns: [
          { key: "name", label: "Name", cell: (r) => named(r.name, r.id) },
          {
            key: "expression",
            label: "Expression",
            cell: (r) =>
              r.expression_words ? h("span", { class: "named" }, r.expression_words, h("br"), mono(r.expression)) : mono(r.expression),
          },
          { key: "timezone", label: "Time zone" },
          {
            key: "enabled",
            label: "State",
            raw: (r) => (r.enabled ? "active" : "paused"),
            cell: (r) => statusBadge(r.enabled ? "active" : "paused"),
          },
          {
            key: "next_runs",
            label: "Next run",
            raw: (r) => r.next_runs[0] || null,
            // in the schedule's own zone: a 09:00 Europe/Berlin cron reads 09:00
            cell: (r) => fmtWhen(r.enabled ? r.next_runs[0] : null, r.timezone),
          },
          { key: "target", label: "Target", raw: (r) => JSON.stringify(r.target), cell: (r) => short(targetText(r.target), 50) },
        ],
        actions: (r) => [
          writeButton(
            "Run now",
            this.act(() => api(`schedules/${r.id}/execute`, { method: "POST" }), `${r.name}: run requested.`),
            { "aria-label": `Run ${r.name} now` },
          ),
          menu([
            r.enabled
              ? writeButton(
                  "Pause",
                  this.act(
                    () => api(`schedules/${r.id}/pause`, { method: "POST", body: { note: "paused from the dashboard" } }),
                    `${r.name}: paused.`,
                  ),
                  { class: "quiet" },
                )
              : writeButton(
                  "Resume",
                  this.act(() => api(`schedules/${r.id}/resume`, { method: "POST" }), `${r.name}: resumed.`),
                  { class: "quiet" },
                ),
            writeButton("Edit", () => this.openForm(r), { class: "quiet" }),
            writeButton(
              "Delete",
              async () => {
                if (!window.confirm(`Delete the schedule ${r.name}?`)) return;
                await api(`schedules/${r.id}`, { method: "DELETE" });
                notify(`${r.name}: deleted.`, "ok");
                await this.load();
              },
              { class: "quiet danger-text" },
            ),
          ]),
        ],
        bulk: [
          {
            label: "Run selected now",
            run: async (rows) => {
              await this.runBatch(
                "batch/schedules/execute",
                rows.map((r) => r.id),
                "started",
              );
            },
          },
        ],
        empty: teach("No schedules yet. Create one with the form above, or:", {
          method: "POST",
          path: "schedules",
          body: {
            name: "nightly",
            expression: "cron(0 2 * * *)",
            timezone: "UTC",
            target: { type: "http", url: "https://example.com/job" },
          },
        }),
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
    return {
      id: data.execution_id || event.id,
      scheduleId: data.schedule_id,
      name: this.names.get(data.schedule_id) || data.schedule_id,
      status,
      start: end - (data.duration_ms || 0),
      end,
      trigger: data.trigger,
      error: data.error?.message || data.error,
    };
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
    // the form open until now goes at once: nothing typed from here on lands in it
    this.formNode?.remove();
    this.formNode = null; // built afresh for this schedule, then kept while live updates reload
    this.refresh().then(() => this.container.querySelector("#schedule-name")?.focus());
  }

  form(schedule) {
    const isNew = !schedule.id;
    const target = schedule.target || { type: "http", method: "POST", url: "" };
    const policy = schedule.retry_policy || {};
    const input = (id, value, attrs = {}) => h("input", { id, value: value ?? "", ...attrs });
    const number = (id, value, attrs = {}) => input(id, value, { type: "number", inputmode: "decimal", ...attrs });
    const area = (id, value, attrs = {}) => h("textarea", { id, rows: 3, spellcheck: "false", ...attrs }, value ?? "");
    const name = input("schedule-name", schedule.name, { required: true, maxlength: 200 });
    const description = input("schedule-description", schedule.description, { maxlength: 2000 });
    const tags = input("schedule-tags", (schedule.tags || []).join(", "), { placeholder: "billing, nightly" });
    const expression = input("schedule-expression", schedule.expression || "rate(5 minutes)", {
      required: true,
      "aria-describedby": "schedule-preview",
    });
    const [timezone, zones] = zonePicker("schedule-timezone", schedule.timezone);
    const startAt = input("schedule-start", schedule.start_at, { placeholder: "2026-12-01T09:00:00Z" });
    const endAt = input("schedule-end", schedule.end_at, { placeholder: "none" });
    const jitter = number("schedule-jitter", schedule.jitter_seconds ?? 0, { min: 0, max: 900 });
    const overlap = select(
      "overlap_policy",
      [
        ["skip", "Skip"],
        ["allow", "Allow"],
        ["buffer_one", "Buffer one"],
        ["buffer_all", "Buffer all"],
      ],
      schedule.overlap_policy || "skip",
    );
    const windowMinutes = number("schedule-window", schedule.flexible_time_window?.maximum_window_minutes, {
      min: 1,
      max: 1440,
      placeholder: "off",
    });
    const afterCompletion = select(
      "action_after_completion",
      [
        ["none", "Keep the schedule"],
        ["delete", "Delete the schedule"],
      ],
      schedule.action_after_completion || "none",
    );
    const remaining = number("schedule-remaining", schedule.remaining_actions, { min: 0, placeholder: "no limit" });
    const keepSucceeded = number("schedule-keep-succeeded", schedule.history_limits?.succeeded, { min: 0, max: 1000, placeholder: "all" });
    const keepFailed = number("schedule-keep-failed", schedule.history_limits?.failed, { min: 0, max: 1000, placeholder: "all" });
    const catchup = select(
      "catchup",
      [
        ["latest", "Run the latest missed"],
        ["all", "Run every missed"],
        ["skip", "Skip missed runs"],
      ],
      schedule.catchup || "latest",
    );
    const catchupWindow = number("schedule-catchup-window", schedule.catchup_window_seconds ?? 3600, { min: 60, max: 604800 });
    const targetType = select(
      "target_type",
      [
        ["http", "HTTP request"],
        ["sqs", "SQS message"],
        ["event", "Conductor event"],
      ],
      target.type,
    );
    const method = select(
      "method",
      ["POST", "GET", "PUT", "PATCH", "DELETE"].map((m) => [m, m]),
      target.method || "POST",
    );
    const url = input("schedule-url", target.url, { placeholder: "https://…" });
    const headers = area("schedule-headers", headerLines(target.headers), { placeholder: "X-Token: …" });
    const body = area("schedule-body", jsonText(target.body), { placeholder: '{"report": "daily"}' });
    const timeout = number("schedule-timeout", target.timeout_seconds ?? 10, { min: 1, max: 30 });
    const queue = input("schedule-queue", target.queue_url, { placeholder: "https://…/queue" });
    const message = area("schedule-message", jsonText(target.message));
    const eventType = input("schedule-event", target.event_type, { placeholder: "custom.nightly" });
    const eventData = area("schedule-event-data", jsonText(target.data));
    const maxAttempts = number("schedule-max-attempts", policy.max_attempts ?? 5, { min: 1, max: 50 });
    const strategy = select(
      "strategy",
      ["exponential", "linear", "fixed"].map((v) => [v, v]),
      policy.strategy || "exponential",
    );
    const initialDelay = number("schedule-initial-delay", policy.initial_delay_seconds ?? 1, { min: 0, max: 3600, step: "any" });
    const maxDelay = number("schedule-max-delay", policy.max_delay_seconds ?? 300, { min: 0, max: 86400, step: "any" });
    const retryJitter = select(
      "jitter",
      ["full", "equal", "decorrelated", "none"].map((v) => [v, v]),
      policy.jitter || "full",
    );
    const pauseAfter = number("schedule-pause-after", schedule.pause_after_failures, { min: 1, placeholder: "never" });
    const parts = {
      http: [
        field("Method", method),
        field("URL", url),
        field("Headers", headers, "one Name: value a line"),
        field("Body (JSON)", body),
        field("Timeout (s)", timeout),
      ],
      sqs: [field("Queue URL", queue), field("Message (JSON)", message)],
      event: [field("Event type", eventType, "custom.…"), field("Data (JSON)", eventData)],
    };
    const targetFields = h("div", { class: "form-grid" });
    const showTarget = () => targetFields.replaceChildren(...parts[targetType.value]);
    targetType.addEventListener("change", showTarget);
    showTarget();
    const words = h("p", { id: "schedule-words", class: "words", "aria-live": "polite" });
    const preview = h("table", {
      id: "schedule-preview",
      class: "stack preview-runs",
      "aria-live": "polite",
      "aria-label": "Next run times",
    });
    const problem = h("p", { class: "error-text", role: "alert" });
    let timer = null;
    let asked = 0; // only the newest question's answer is shown, whatever order answers come in
    const refreshPreview = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const question = ++asked;
        const zone = timezone.value.trim();
        try {
          const result = await api("schedules/preview", {
            method: "POST",
            body: { expression: expression.value.trim(), timezone: zone, count: 5 },
          });
          if (question !== asked) return;
          words.textContent = result.expression_words ? `${result.expression_words} (${zone})` : "";
          // each run in the schedule's zone (what its cron means) and the viewer's
          preview.replaceChildren(
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, `In ${zone}`), h("th", { scope: "col" }, "In your zone"))),
            h(
              "tbody",
              {},
              result.next_runs.map((t) =>
                h("tr", {}, h("td", { "data-label": zone }, fmtTime(t, zone)), h("td", { "data-label": "Yours" }, fmtWhen(t))),
              ),
            ),
          );
          problem.textContent = "";
        } catch (err) {
          if (question !== asked) return;
          preview.replaceChildren();
          words.textContent = "";
          problem.textContent = explain(err);
        }
      }, 250);
    };
    expression.addEventListener("input", refreshPreview);
    timezone.addEventListener("input", refreshPreview);
    refreshPreview();
    const group = (legend, ...fields) =>
      h("fieldset", { class: "form-group" }, h("legend", {}, legend), h("div", { class: "form-grid" }, fields));
    const form = h(
      "form",
      { class: "panel", "aria-label": isNew ? "New schedule" : `Edit ${schedule.name}`, "data-form": "schedule" },
      h("h3", {}, isNew ? "New schedule" : `Edit ${schedule.name}`),
      group("Schedule", field("Name", name), field("Description", description), field("Tags", tags, "comma-separated")),
      group(
        "When",
        field("Expression", expression, "cron(…), rate(…) or at(…)"),
        field("Time zone", timezone, "IANA, e.g. Europe/Berlin"),
        zones,
        field("Starts at", startAt, "ISO 8601, optional"),
        field("Ends at", endAt, "ISO 8601, optional"),
        field("Jitter (s)", jitter, "a random delay up to this"),
        field("Flexible window (min)", windowMinutes, "each run starts within it; empty: off"),
        field("When a run is still going", overlap),
        field("Missed runs", catchup),
        field("Catch up within (s)", catchupWindow),
        field("Runs left", remaining, "then it pauses; empty: no limit"),
        field("After its last run", afterCompletion),
        field("Keep succeeded runs", keepSucceeded, "newest; empty: all"),
        field("Keep failed runs", keepFailed, "newest; empty: all"),
      ),
      words,
      h("p", { class: "muted" }, "Next runs:"),
      preview,
      h(
        "fieldset",
        { class: "form-group" },
        h("legend", {}, "Target"),
        h("div", { class: "form-grid" }, field("Kind", targetType)),
        targetFields,
      ),
      group(
        "When a run fails",
        field("Attempts in all", maxAttempts, "this run's included"),
        field("Backoff", strategy),
        field("First delay (s)", initialDelay),
        field("Longest delay (s)", maxDelay),
        field("Jitter", retryJitter),
        field("Pause after failed runs in a row", pauseAfter, "empty: never"),
      ),
      problem,
      h(
        "div",
        { class: "form-actions" },
        h("button", { type: "submit" }, isNew ? "Create" : "Save"),
        h(
          "button",
          {
            type: "button",
            class: "quiet",
            onclick: () => {
              this.editing = null;
              this.formNode = null;
              this.refresh();
            },
          },
          "Cancel",
        ),
      ),
    );
    const targetBody = () => {
      if (targetType.value === "event")
        return { type: "event", event_type: eventType.value.trim(), data: parseJson("Data", eventData.value, {}) };
      if (targetType.value === "sqs") return { type: "sqs", queue_url: queue.value.trim(), message: parseJson("Message", message.value) };
      return {
        type: "http",
        method: method.value,
        url: url.value.trim(),
        headers: parseHeaders(headers.value),
        body: parseJson("Body", body.value),
        timeout_seconds: numberOr(timeout, 10),
      };
    };
    form.addEventListener(
      "submit",
      guarded(async (e) => {
        e.preventDefault();
        let payload;
        try {
          payload = {
            name: name.value.trim(),
            description: description.value.trim() || null,
            tags: tags.value
              .split(",")
              .map((t) => t.trim())
              .filter(Boolean),
            expression: expression.value.trim(),
            timezone: timezone.value.trim(),
            start_at: startAt.value.trim() || null,
            end_at: endAt.value.trim() || null,
            jitter_seconds: numberOr(jitter, 0),
            overlap_policy: overlap.value,
            catchup: catchup.value,
            catchup_window_seconds: numberOr(catchupWindow, 3600),
            target: targetBody(),
            retry_policy: {
              ...policy,
              max_attempts: numberOr(maxAttempts, 5),
              strategy: strategy.value,
              initial_delay_seconds: numberOr(initialDelay, 1),
              max_delay_seconds: numberOr(maxDelay, 300),
              jitter: retryJitter.value,
            },
            pause_after_failures: numberOr(pauseAfter),
            flexible_time_window: windowMinutes.value.trim()
              ? { mode: "FLEXIBLE", maximum_window_minutes: numberOr(windowMinutes) }
              : { mode: "OFF" },
            action_after_completion: afterCompletion.value,
            remaining_actions: numberOr(remaining),
            history_limits:
              keepSucceeded.value.trim() || keepFailed.value.trim()
                ? { succeeded: numberOr(keepSucceeded, 1000), failed: numberOr(keepFailed, 1000) }
                : null,
          };
        } catch (err) {
          problem.textContent = err.message; // a JSON or header line the form could not read
          return;
        }
        try {
          if (isNew) await api("schedules", { method: "POST", body: payload });
          else
            await api(`schedules/${schedule.id}`, {
              method: "PUT",
              body: { ...writableFields(schedule), ...payload, version: schedule.version },
            });
        } catch (err) {
          problem.textContent = explain(err);
          return;
        }
        notify(`${payload.name}: ${isNew ? "created" : "saved"}.`, "ok");
        if (this.formNode === form) {
          // still the form open: it closes (another opened meanwhile stays open)
          this.editing = null;
          this.formNode = null;
        }
        await this.load();
      }),
    );
    return form;
  }
}

/** The writable fields of a schedule, for a full PUT that changes only what the form shows. */
function writableFields(sc) {
  const keep = [
    "name",
    "description",
    "expression",
    "timezone",
    "start_at",
    "end_at",
    "jitter_seconds",
    "overlap_policy",
    "catchup",
    "catchup_window_seconds",
    "enabled",
    "target",
    "retry_policy",
    "tags",
    "pause_after_failures",
    "flexible_time_window",
    "action_after_completion",
    "remaining_actions",
    "history_limits",
  ];
  return Object.fromEntries(keep.filter((k) => sc[k] !== null && sc[k] !== undefined).map((k) => [k, sc[k]]));
}

function targetText(target) {
  if (target.type === "http") return `${target.method} ${target.url}`;
  if (target.type === "event") return `event ${target.event_type}`;
  return `sqs ${target.queue_url}`;
}
