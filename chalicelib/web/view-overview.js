// The overview: totals and rates, breakers, health, next runs and the live feed.
import { api } from "./api.js";
import { cards, dataTable, fmtBound, fmtNum, fmtRate, fmtTime, h, statusBadge, writeButton } from "./ui.js";
import { mono, short, View } from "./view.js";

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
      writeButton(
        "Reset",
        this.act(
          () => api(`errors/circuit-breaker/${row.service}`, { method: "POST", body: { action: "reset" } }),
          `${row.service}: reset.`,
        ),
      ),
      writeButton(
        "Force open",
        this.act(
          () => api(`errors/circuit-breaker/${row.service}`, { method: "POST", body: { action: "force_open" } }),
          `${row.service}: forced open.`,
        ),
      ),
      writeButton(
        "Force close",
        this.act(
          () => api(`errors/circuit-breaker/${row.service}`, { method: "POST", body: { action: "force_close" } }),
          `${row.service}: forced closed.`,
        ),
      ),
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
      dataTable({
        name: "breakers",
        title: "Circuit breakers",
        rows: overview.breakers,
        rowId: (r) => r.service,
        columns: [
          { key: "service", label: "Service" },
          { key: "state", label: "State", cell: (r) => statusBadge(r.state) },
        ],
        actions: breakerActions,
        empty: "No breaker has seen a call yet.",
      }),
      dataTable({
        name: "health",
        title: `Dependencies (${health.status})`,
        rows: health.components,
        rowId: (r) => r.name,
        columns: [
          { key: "kind", label: "Kind" },
          { key: "name", label: "Name" },
          { key: "resource", label: "Resource", cell: (r) => mono(r.resource) },
          { key: "status", label: "Status", cell: (r) => statusBadge(r.status) },
        ],
        empty: health.error || "No components.",
      }),
      dataTable({
        name: "next-runs",
        title: "Next runs",
        rows: overview.next_runs,
        rowId: (r) => r.schedule_id,
        columns: [
          { key: "name", label: "Schedule" },
          { key: "next_run_at", label: "Next run", cell: (r) => fmtTime(r.next_run_at) },
        ],
        empty: "No schedule is due.",
      }),
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
  return h(
    "li",
    { "data-event": event.id },
    h("span", { class: "muted" }, fmtTime(event.timestamp)),
    " ",
    h("strong", {}, event.type),
    " ",
    h("span", { class: "mono" }, short(JSON.stringify(event.data ?? {}), 120)),
  );
}
