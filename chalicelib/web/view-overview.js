// The overview: what needs attention first (each a link into its page or a filtered view), then
// totals and rates, breakers, health (one line unless something is down), next runs, the feed.
import { api } from "./api.js";
import { cards, dataTable, fmtBound, fmtNum, fmtRate, fmtTime, fmtWhen, h, menu, statusBadge, teach, writeButton } from "./ui.js";
import { linkTo, mono, serviceNamed, short, View } from "./view.js";

export class Overview extends View {
  constructor() {
    super("Overview", ["error.", "schedule.", "webhook.", "system.", "metrics."]);
    this.feed = h("ol", { class: "feed", "aria-label": "Events as they arrive", "data-feed": "" });
    this.events = new Map(); // id -> event: the history and what arrived live, once each
    this.showInternal = false;
    this.internalToggle = h("input", {
      type: "checkbox",
      id: "feed-internal",
      onchange: () => {
        this.showInternal = this.internalToggle.checked;
        this.drawFeed();
      },
    });
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
        row.state === "closed" ? { class: "quiet" } : {},
      ),
      menu([
        writeButton(
          "Force open",
          this.act(
            () => api(`errors/circuit-breaker/${row.service}`, { method: "POST", body: { action: "force_open" } }),
            `${row.service}: forced open.`,
          ),
          { class: "quiet", confirm: `Force the breaker of ${row.service} open? Every call to it is held until it is reset.` },
        ),
        writeButton(
          "Force close",
          this.act(
            () => api(`errors/circuit-breaker/${row.service}`, { method: "POST", body: { action: "force_close" } }),
            `${row.service}: forced closed.`,
          ),
          { class: "quiet" },
        ),
      ]),
    ];
    this.addToFeed(events.items); // also when a live event came first: none is skipped
    this.show(
      attentionPanel(overview.attention, m, health),
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
        // a delivery retried to success still had failed attempts: an endpoint failing every other
        // try shows here, not in the line above
        [
          "Webhook attempts failed",
          `${fmtNum(Math.max(0, m.webhooks.attempts - m.webhooks.delivered))} of ${fmtNum(m.webhooks.attempts)}`,
          "webhook-attempts",
        ],
        ["Webhook latency p50 / p95", `${fmtBound(m.webhooks.latency, "p50")} / ${fmtBound(m.webhooks.latency, "p95")}`, "webhook-latency"],
        ["Health", health.status, "health"],
      ]),
      dataTable({
        name: "breakers",
        title: "Circuit breakers",
        rows: overview.breakers,
        rowId: (r) => r.service,
        columns: [
          {
            key: "service",
            label: "Service",

            cell: (r) => serviceNamed(r.service, r.name),
          },
          { key: "state", label: "State", cell: (r) => statusBadge(r.state) },
        ],
        actions: breakerActions,
        empty: teach("No breaker has seen a call yet: a service's breaker appears with its first retry attempt."),
      }),
      healthLine(health),
      dataTable({
        name: "next-runs",
        title: "Next runs",
        rows: overview.next_runs,
        rowId: (r) => r.schedule_id,
        columns: [
          { key: "name", label: "Schedule", cell: (r) => linkTo(r.schedule_id, r.name) },
          { key: "next_run_at", label: "Next run", cell: (r) => fmtWhen(r.next_run_at) },
        ],
        empty: teach("No schedule is due. Schedules are made in the Schedules view, or:", {
          method: "POST",
          path: "schedules",
          body: { name: "nightly", expression: "cron(0 2 * * *)", target: { type: "http", url: "https://example.com/job" } },
        }),
      }),
      h("h3", {}, "Live events"),
      h("label", { class: "muted" }, this.internalToggle, ` Show internal events (${[...INTERNAL].join(", ")})`),
      this.feed,
    );
  }

  addToFeed(events) {
    for (const event of events) this.events.set(event.id, event);
    const newest = [...this.events.values()].sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, FEED_SIZE);
    this.events = new Map(newest.map((e) => [e.id, e]));
    this.drawFeed();
  }

  drawFeed() {
    const shown = [...this.events.values()].filter((e) => this.showInternal || !INTERNAL.has(e.type));
    this.feed.replaceChildren(...shown.map(feedItem));
  }

  onEvent(event) {
    this.addToFeed([event]);
    super.onEvent(event);
  }
}

/** The reconciler's kinds of work, as the attention panel names them. */
const RECOVERED_KINDS = { retry_job: "retry attempts", delivery: "webhook deliveries", run: "schedule runs" };

/** What is not well, worst first: each line says what and links where to act on it. */
function attentionPanel(a, m, health) {
  const line = (kind, what, ...text) => h("li", { "data-attention": kind }, what, " ", ...text);
  const errorsOf = (service) => h("a", { href: `#errors?service=${encodeURIComponent(service)}` }, "its retry jobs");
  const items = [
    ...(health.down || []).map((name) => line("health", statusBadge("down"), `${name} is unreachable`)),
    ...a.breakers.map((b) =>
      line("breaker", statusBadge(b.state), `breaker of ${b.name ? `schedule ${b.name}` : b.service} holds `, errorsOf(b.service)),
    ),
    ...a.failing_schedules.map((s) => line("schedule", linkTo(s.id, s.name || s.id), `${s.failures} of ${s.runs} runs failed`)),
    ...a.paused_schedules.map((s) => line("paused", linkTo(s.id, s.name), "is paused", s.note ? `: ${s.note}` : "")),
    ...a.disabled_endpoints.map((e) => line("disabled", linkTo(e.id, e.name), "is disabled", e.reason ? `: ${e.reason}` : "")),
    ...a.failing_endpoints.map((e) =>
      line("endpoint", linkTo(e.id, e.name || e.id), `${e.failed} deliveries failed, ${e.delivered} delivered`),
    ),
    ...(a.recovered_work || []).map((r) =>
      line(
        "recovered",
        `${fmtNum(r.recovered)} ${RECOVERED_KINDS[r.kind] || r.kind}`,
        "were overdue and put back on their way in 24 h (system.work_recovered events say which)",
      ),
    ),
  ];
  if (m.dead_letters_open) {
    items.push(
      line(
        "dead-letters",
        h("a", { href: "#dead-letters" }, `${fmtNum(m.dead_letters_open)} open dead letter${m.dead_letters_open === 1 ? "" : "s"}`),
        `(${fmtNum(m.retries.dead_lettered)} new in 24 h)`,
      ),
    );
  }
  return h(
    "section",
    { class: "attention", "aria-labelledby": "attention-title", "data-state": items.length ? "attention" : "ok" },
    h("h3", { id: "attention-title" }, items.length ? "Needs attention" : "All clear"),
    items.length
      ? h("ul", {}, items)
      : h("p", {}, "Every breaker is closed, no run or delivery failed in the last 24 hours and no dead letter is open."),
  );
}

/** Health in one line that opens into every dependency (open already when one is down). */
function healthLine(health) {
  const down = health.down || [];
  const summary = health.error
    ? `Health: could not be read (${health.error})`
    : down.length
      ? `Health: ${down.length} of ${health.components.length} dependencies down (${down.join(", ")})`
      : `Health: all ${health.components.length} dependencies ok`;
  return h(
    "details",
    { class: "health", open: down.length > 0 },
    h("summary", {}, summary),
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
  );
}

/** Events about Conductor's own bookkeeping: hidden from the feed unless asked for. */
const INTERNAL = new Set(["metrics.updated"]);
const FEED_SIZE = 50;

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
