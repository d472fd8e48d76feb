// Schedules: the Gantt timeline, the form with a live preview, pause/resume/run/delete.
import { all, api } from "./api.js";
import { Gantt } from "./gantt.js";
import { dataTable, explain, field, fmtTime, fmtWhen, guarded, h, notify, select, statusBadge, teach, writeButton } from "./ui.js";
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
          { key: "expression", label: "Expression", cell: (r) => mono(r.expression) },
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
          r.enabled
            ? writeButton(
                "Pause",
                this.act(
                  () => api(`schedules/${r.id}/pause`, { method: "POST", body: { note: "paused from the dashboard" } }),
                  `${r.name}: paused.`,
                ),
              )
            : writeButton(
                "Resume",
                this.act(() => api(`schedules/${r.id}/resume`, { method: "POST" }), `${r.name}: resumed.`),
              ),
          writeButton("Edit", () => this.openForm(r)),
          writeButton(
            "Delete",
            async () => {
              if (!window.confirm(`Delete the schedule ${r.name}?`)) return;
              await api(`schedules/${r.id}`, { method: "DELETE" });
              notify(`${r.name}: deleted.`, "ok");
              await this.load();
            },
            { class: "danger" },
          ),
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
    this.formNode = null; // built afresh for this schedule, then kept while live updates reload
    this.refresh().then(() => this.container.querySelector("#schedule-name")?.focus());
  }

  form(schedule) {
    const isNew = !schedule.id;
    const target = schedule.target || { type: "http", method: "POST", url: "" };
    const name = h("input", { id: "schedule-name", required: true, maxlength: 200, value: schedule.name || "" });
    const expression = h("input", {
      id: "schedule-expression",
      required: true,
      value: schedule.expression || "rate(5 minutes)",
      "aria-describedby": "schedule-preview",
    });
    const timezone = h("input", { id: "schedule-timezone", required: true, value: schedule.timezone || "UTC" });
    const targetType = select(
      "target_type",
      [
        ["http", "HTTP request"],
        ["event", "Conductor event"],
      ],
      target.type === "event" ? "event" : "http",
    );
    const url = h("input", { id: "schedule-url", value: target.url || "", placeholder: "https://…" });
    const eventType = h("input", { id: "schedule-event", value: target.event_type || "", placeholder: "custom.nightly" });
    const overlap = select(
      "overlap_policy",
      [
        ["skip", "Skip"],
        ["allow", "Allow"],
        ["buffer_one", "Buffer one"],
      ],
      schedule.overlap_policy || "skip",
    );
    const preview = h("ol", { id: "schedule-preview", class: "preview", "aria-live": "polite", "aria-label": "Next run times" });
    const problem = h("p", { class: "error-text", role: "alert" });
    let timer = null;
    let asked = 0; // only the newest question's answer is shown, whatever order answers come in
    const refreshPreview = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const question = ++asked;
        try {
          const result = await api("schedules/preview", {
            method: "POST",
            body: { expression: expression.value.trim(), timezone: timezone.value.trim(), count: 5 },
          });
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
    const form = h(
      "form",
      { class: "panel", "aria-label": isNew ? "New schedule" : `Edit ${schedule.name}`, "data-form": "schedule" },
      h("h3", {}, isNew ? "New schedule" : `Edit ${schedule.name}`),
      h(
        "div",
        { class: "form-grid" },
        field("Name", name),
        field("Expression", expression, "cron(…), rate(…) or at(…)"),
        field("Time zone", timezone, "IANA, e.g. Europe/Berlin"),
        field("Target", targetType),
        field("URL (HTTP target)", url),
        field("Event type (event target)", eventType),
        field("When a run is still going", overlap),
      ),
      h("p", { class: "muted" }, "Next runs:"),
      preview,
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
    form.addEventListener(
      "submit",
      guarded(async (e) => {
        e.preventDefault();
        const body = {
          name: name.value.trim(),
          expression: expression.value.trim(),
          timezone: timezone.value.trim(),
          overlap_policy: overlap.value,
          target:
            targetType.value === "event"
              ? { type: "event", event_type: eventType.value.trim() }
              : { ...target, type: "http", url: url.value.trim() },
        };
        if (targetType.value === "http") delete body.target.event_type;
        if (targetType.value === "http" && target.type !== "http") delete body.target.data;
        try {
          if (isNew) await api("schedules", { method: "POST", body });
          else
            await api(`schedules/${schedule.id}`, {
              method: "PUT",
              body: { ...writableFields(schedule), ...body, version: schedule.version },
            });
        } catch (err) {
          problem.textContent = explain(err);
          return;
        }
        notify(`${body.name}: ${isNew ? "created" : "saved"}.`, "ok");
        this.editing = null;
        this.formNode = null;
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
  ];
  return Object.fromEntries(keep.filter((k) => sc[k] !== null && sc[k] !== undefined).map((k) => [k, sc[k]]));
}

function targetText(target) {
  if (target.type === "http") return `${target.method} ${target.url}`;
  if (target.type === "event") return `event ${target.event_type}`;
  return `sqs ${target.queue_url}`;
}
