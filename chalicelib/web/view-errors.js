// Retry jobs: filter, inspect attempts, resolve.
import { all, api } from "./api.js";
import {
  cards,
  dataTable,
  field,
  fmtMs,
  fmtNum,
  fmtRate,
  fmtTime,
  fmtWhen,
  guarded,
  h,
  select,
  statusBadge,
  teach,
  writeButton,
} from "./ui.js";
import { errorText, linkTo, mono, serviceNamed, short, View } from "./view.js";

const JOB_STATUSES = [
  ["", "Any status"],
  ["scheduled", "Scheduled"],
  ["running", "Running"],
  ["succeeded", "Succeeded"],
  ["dead_lettered", "Dead-lettered"],
  ["resolved", "Resolved"],
];

export class Errors extends View {
  constructor() {
    super("Errors", ["error."]);
    this.filters = { status: "", service: "" };
  }

  async load() {
    const [jobs, stats] = await Promise.all([api("errors/retry", { query: { ...this.filters, limit: 100 } }), api("errors/stats")]);
    const status = select("status", JOB_STATUSES, this.filters.status);
    // no pattern copied from the API here: it had drifted (it refused the schedule:sch_… services
    // Conductor makes itself); the API checks the name and the view explains its answer
    const service = h("input", {
      name: "service",
      value: this.filters.service,
      placeholder: "e.g. payments or schedule:sch_…",
      maxlength: "64",
    });
    const form = h(
      "form",
      { class: "filters", "aria-label": "Filter retry jobs" },
      field("Status", status),
      field("Service", service),
      h("button", { type: "submit" }, "Apply"),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.filters = { status: status.value, service: service.value.trim() };
      this.refresh();
    });
    this.show(
      cards([
        ["Created (24 h)", fmtNum(stats.counts.created)],
        ["Succeeded", fmtNum(stats.counts.succeeded)],
        ["Dead-lettered", fmtNum(stats.counts.dead_lettered)],
        ["Resolved", fmtNum(stats.counts.resolved)],
        ["Success rate", fmtRate(stats.success_rate)],
        ["Mean attempts to success", stats.mean_attempts_to_success ?? "—"],
      ]),
      form,
      dataTable({
        name: "retry-jobs",
        title: "Retry jobs",
        rows: jobs.items,
        columns: [
          { key: "id", label: "Id", cell: (r) => linkTo(r.id, mono(r.id)) },
          { key: "service", label: "Service", cell: (r) => serviceNamed(r.service, r.service_name) },
          { key: "status", label: "Status", cell: (r) => statusBadge(r.status) },
          { key: "attempt_count", label: "Attempts", raw: (r) => r.attempt_count, cell: attemptsCell },
          { key: "error", label: "Error", raw: (r) => errorText(r.error), cell: (r) => short(errorText(r.error)) },
          { key: "next_attempt_at", label: "Next attempt", cell: (r) => fmtWhen(r.next_attempt_at) },
          { key: "updated_at", label: "Updated", cell: (r) => fmtTime(r.updated_at) },
        ],
        actions: (r) => [
          r.status === "dead_lettered" && r.dead_letter_id
            ? writeButton(
                "Retry",
                this.act(() => api(`dlq/${r.dead_letter_id}/replay`, { method: "POST" }), `${r.id}: retried as a new job.`),
              )
            : null,
          ["scheduled", "running", "dead_lettered"].includes(r.status)
            ? writeButton(
                "Resolve",
                this.act(() => api("errors/resolve", { method: "POST", body: { id: r.id } }), `${r.id}: resolved.`),
                { class: "quiet", confirm: `Resolve ${r.id}? It will not be retried again.` },
              )
            : null,
        ],
        bulk: [
          {
            label: "Retry selected",
            run: async (rows) => {
              const letters = rows.filter((r) => r.status === "dead_lettered" && r.dead_letter_id);
              if (!letters.length) throw new Error("Only dead-lettered jobs can be retried.");
              await this.runBatch(
                "batch/dlq/replay",
                letters.map((r) => r.dead_letter_id),
                "retried",
              );
            },
          },
          {
            label: "Resolve selected",
            run: async (rows) => {
              await this.runBatch(
                "batch/errors/resolve",
                rows.map((r) => r.id),
                "resolved",
              );
            },
          },
        ],
        empty: teach("No retry jobs match. A failed operation is handed over like this:", {
          method: "POST",
          path: "errors/retry",
          body: { service: "payments", target: { type: "http", url: "https://example.com/charge" }, error: { type: "Timeout" } },
        }),
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
  details.addEventListener(
    "toggle",
    guarded(async () => {
      if (!details.open || details.dataset.loaded) return;
      const attempts = await all(`errors/retry/${job.id}/attempts`, {}, 200);
      details.dataset.loaded = "1";
      details.append(
        h(
          "ol",
          { class: "attempts" },
          attempts.map((a) =>
            h(
              "li",
              {},
              statusBadge(a.outcome),
              ` ${fmtTime(a.started_at)}, ${fmtMs(a.duration_ms)}`,
              a.status_code ? `, HTTP ${a.status_code}` : "",
              a.error_type ? `, ${a.error_type}: ${short(a.error_message || "", 80)}` : "",
              a.next_delay_seconds !== null ? `, next in ${a.next_delay_seconds} s` : "",
            ),
          ),
        ),
      );
    }),
  );
  return details;
}
