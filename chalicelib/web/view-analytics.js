// Analytics: metric windows as charts, exportable.
import { api } from "./api.js";
import { chart } from "./charts.js";
import { dataTable, field, fmtMs, fmtRate, h, select } from "./ui.js";
import { named, serviceNamed, View } from "./view.js";

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
    const errorRows = rows(apiH, (v) => ({
      requests: v.requests || 0,
      status_5xx: v.status_5xx || 0,
      error_rate: v.requests ? (v.status_5xx || 0) / v.requests : null,
    }));
    const retryRows = rows(retriesH, (v) => ({
      succeeded: v.succeeded || 0,
      dead_lettered: v.dead_lettered || 0,
      success_rate: rate(v.succeeded || 0, v.dead_lettered || 0),
    }));
    const runRows = rows(schedulesH, (v) => ({ runs: v.runs || 0, failures: v.failures || 0, skipped: v.skipped || 0 }));
    const latencyRows = rows(webhooksH, (v, p) => ({
      delivered: v.delivered || 0,
      p50_ms: p.latency?.p50_ms ?? null,
      p95_ms: p.latency?.p95_ms ?? null,
    }));
    const times = (list) => list.map((r) => Date.parse(r.window_start));
    const axis = { from: Date.parse(query.from), to: Date.parse(query.to), step: { minute: 60e3, hour: 3600e3, day: 86400e3 }[window] };
    const pct = (v) => `${Math.round(v * 100)}%`;
    const picker = select(
      "range",
      [
        ["hour", "Last hour, by minute"],
        ["day", "Last 24 hours, by hour"],
        ["month", "Last 30 days, by day"],
      ],
      this.range,
    );
    picker.addEventListener("change", () => {
      this.range = picker.value;
      this.refresh();
    });
    const tableOf = (name, title, list, keys) =>
      dataTable({
        name,
        title,
        rows: list,
        rowId: (r) => r.window_start,
        columns: [{ key: "window_start", label: "Window" }, ...keys.map((k) => ({ key: k, label: k.replace(/_/g, " ") }))],
      });
    this.show(
      h("div", { class: "filters" }, field("Range", picker)),
      h(
        "div",
        { class: "charts" },
        chart({
          ...axis,
          id: "error-rate",
          title: "API error rate (5xx)",
          times: times(errorRows),
          max: 1,
          format: pct,
          series: [{ name: "5xx share", values: errorRows.map((r) => r.error_rate) }],
        }),
        chart({
          ...axis,
          id: "retry-success",
          title: "Retry success",
          times: times(retryRows),
          max: 1,
          format: pct,
          series: [{ name: "succeeded / finished", values: retryRows.map((r) => r.success_rate) }],
        }),
        chart({
          ...axis,
          id: "schedule-runs",
          title: "Schedule runs",
          times: times(runRows),
          kind: "bars",
          format: (v) => String(Math.round(v)),
          minTop: 4,
          series: [
            { name: "runs", values: runRows.map((r) => r.runs) },
            { name: "failures", values: runRows.map((r) => r.failures) },
            { name: "skipped", values: runRows.map((r) => r.skipped) },
          ],
        }),
        chart({
          ...axis,
          id: "webhook-latency",
          title: "Webhook latency",
          times: times(latencyRows),
          format: (v) => fmtMs(v),
          minTop: 100,
          series: [
            { name: "p50", values: latencyRows.map((r) => r.p50_ms) },
            { name: "p95", values: latencyRows.map((r) => r.p95_ms) },
          ],
        }),
      ),
      h(
        "details",
        {},
        h("summary", {}, "The numbers behind the charts"),
        tableOf("api-history", "API requests", errorRows, ["requests", "status_5xx", "error_rate"]),
        tableOf("retry-history", "Retries", retryRows, ["succeeded", "dead_lettered", "success_rate"]),
        tableOf("schedule-history", "Schedule runs", runRows, ["runs", "failures", "skipped"]),
        tableOf("webhook-history", "Webhook latency", latencyRows, ["delivered", "p50_ms", "p95_ms"]),
      ),
      dataTable({
        name: "services",
        title: "Retries by service",
        rowId: (r) => r.service,
        rows: Object.entries(services.services).map(([service, v]) => ({ service, ...v.counts, success_rate: v.success_rate })),
        columns: [
          { key: "service", label: "Service", cell: (r) => serviceNamed(r.service, services.names?.[r.service]) },
          { key: "created", label: "Created" },
          { key: "succeeded", label: "Succeeded" },
          { key: "dead_lettered", label: "Dead-lettered" },
          { key: "success_rate", label: "Success", cell: (r) => fmtRate(r.success_rate) },
        ],
      }),
      dataTable({
        name: "schedule-stats",
        title: "Runs by schedule",
        rows: perSchedule.items,
        columns: [
          { key: "id", label: "Schedule", cell: (r) => named(r.name, r.id) },
          { key: "runs", label: "Runs" },
          { key: "failures", label: "Failures" },
          { key: "success_rate", label: "Success", cell: (r) => fmtRate(r.success_rate) },
          { key: "mean_ms", label: "Mean", cell: (r) => fmtMs(r.mean_ms) },
        ],
      }),
      dataTable({
        name: "webhook-stats",
        title: "Deliveries by endpoint",
        rows: perHook.items,
        columns: [
          { key: "id", label: "Endpoint", cell: (r) => named(r.name, r.id) },
          { key: "delivered", label: "Delivered" },
          { key: "failed", label: "Failed" },
          { key: "attempts", label: "Attempts" },
          { key: "failed_attempts", label: "Failed attempts" },
          { key: "success_rate", label: "Success", cell: (r) => fmtRate(r.success_rate) },
          { key: "mean_ms", label: "Mean", cell: (r) => fmtMs(r.mean_ms) },
        ],
      }),
    );
  }
}
