// Dead letters grouped by fingerprint: replay and resolve, one or a group.
import { all, api } from "./api.js";
import { dataTable, field, fmtTime, h, select, statusBadge, teach, writeButton } from "./ui.js";
import { errorText, linkTo, mono, serviceNamed, short, View } from "./view.js";

export class DeadLetters extends View {
  constructor() {
    super("Dead letters", ["error.", "webhook.failed", "schedule.failed"]);
    this.status = "open";
    this.fingerprint = null;
  }

  /** A group has its own URL: ``#dead-letters?fingerprint=…`` (and ``&status=…``). */
  applyQuery(params) {
    this.fingerprint = params.get("fingerprint") || null;
    this.status = ["open", "resolved", "replayed"].includes(params.get("status")) ? params.get("status") : "open";
  }

  async load() {
    const items = await all("dlq", { status: this.status }, 500);
    const groups = new Map();
    for (const item of items) {
      const group = groups.get(item.fingerprint) || {
        fingerprint: item.fingerprint,
        count: 0,
        services: new Set(),
        source: item.source,
        error: errorText(item.error),
        first_seen: item.created_at,
        last_seen: item.created_at,
        ids: [],
      };
      group.count += 1;
      group.services.add(item.service_name ? `Schedule ${item.service_name}` : item.service);
      group.ids.push(item.id);
      if (item.created_at < group.first_seen) group.first_seen = item.created_at;
      if (item.created_at > group.last_seen) group.last_seen = item.created_at;
      groups.set(item.fingerprint, group);
    }
    const groupRows = [...groups.values()].map((g) => ({ ...g, services: [...g.services].join(", ") })).sort((a, b) => b.count - a.count);
    const shown = this.fingerprint ? items.filter((i) => i.fingerprint === this.fingerprint) : items;
    const statusPicker = select(
      "status",
      [
        ["open", "Open"],
        ["resolved", "Resolved"],
        ["replayed", "Replayed"],
      ],
      this.status,
    );
    statusPicker.addEventListener("change", () => {
      this.status = statusPicker.value;
      this.fingerprint = null;
      this.refresh();
    });
    const isOpen = this.status === "open";
    const bulk = (path, ids, verb) => () => this.runBatch(path, ids, verb);
    this.show(
      h("div", { class: "filters" }, field("Status", statusPicker)),
      items.more
        ? h(
            "p",
            { class: "muted", role: "note" },
            `Grouped from the newest ${items.length} ${this.status} dead letters; resolve or replay some to see older ones.`,
          )
        : null,
      dataTable({
        name: "dead-letter-groups",
        title: "Grouped by error fingerprint",
        rows: groupRows,
        rowId: (g) => g.fingerprint,
        columns: [
          {
            key: "fingerprint",
            label: "Fingerprint",
            cell: (g) =>
              h(
                "a",
                { href: `#dead-letters?fingerprint=${g.fingerprint}&status=${this.status}`, "data-group": g.fingerprint },
                mono(g.fingerprint),
              ),
          },
          { key: "count", label: "Count" },
          { key: "services", label: "Services" },
          { key: "source", label: "Source" },
          { key: "error", label: "Error", cell: (g) => short(g.error) },
          { key: "last_seen", label: "Last seen", cell: (g) => fmtTime(g.last_seen) },
        ],
        actions: (g) => [
          h(
            "button",
            {
              type: "button",
              class: "quiet",
              "aria-pressed": String(this.fingerprint === g.fingerprint),
              onclick: () => {
                this.fingerprint = this.fingerprint === g.fingerprint ? null : g.fingerprint;
                this.refresh();
              },
            },
            this.fingerprint === g.fingerprint ? "Show all" : "Show",
          ),
          isOpen
            ? writeButton("Replay group", bulk("batch/dlq/replay", g.ids, "replayed"), {
                confirm: `Replay all ${g.ids.length} dead letters of this group as new retry jobs?`,
              })
            : null,
          isOpen
            ? writeButton("Resolve group", bulk("batch/dlq/resolve", g.ids, "resolved"), {
                class: "quiet",
                confirm: `Resolve all ${g.ids.length} dead letters of this group without running them?`,
              })
            : null,
        ],
        empty: teach(
          `No ${this.status} dead letters. A retry job that exhausts its attempts, a webhook delivery that gives up and a message a handler could not process land here.`,
        ),
      }),
      dataTable({
        name: "dead-letters",
        title: this.fingerprint ? `Dead letters with fingerprint ${this.fingerprint}` : "Dead letters",
        rows: shown,
        columns: [
          { key: "id", label: "Id", cell: (r) => linkTo(r.id, mono(r.id)) },
          { key: "service", label: "Service", cell: (r) => serviceNamed(r.service, r.service_name) },
          { key: "source", label: "Source" },
          { key: "attempts", label: "Attempts" },
          {
            key: "error",
            label: "Error",
            raw: (r) => errorText(r.error),
            cell: (r) =>
              h(
                "details",
                {},
                h("summary", {}, short(errorText(r.error), 70)),
                h("pre", { class: "mono" }, JSON.stringify(r.payload, null, 2)),
              ),
          },
          { key: "created_at", label: "Created", cell: (r) => fmtTime(r.created_at) },
          { key: "status", label: "Status", cell: (r) => statusBadge(r.status) },
        ],
        actions: (r) =>
          r.status === "open"
            ? [
                writeButton(
                  "Replay",
                  this.act(() => api(`dlq/${r.id}/replay`, { method: "POST" }), `${r.id}: replayed.`),
                ),
                writeButton(
                  "Resolve",
                  this.act(() => api(`dlq/${r.id}/resolve`, { method: "POST", body: {} }), `${r.id}: resolved.`),
                  { class: "quiet", confirm: `Resolve ${r.id}? It will not be replayed.` },
                ),
              ]
            : [],
        bulk: isOpen
          ? [
              {
                label: "Replay selected",
                run: (rows) =>
                  bulk(
                    "batch/dlq/replay",
                    rows.map((r) => r.id),
                    "replayed",
                  )(),
              },
              {
                label: "Resolve selected",
                run: (rows) =>
                  bulk(
                    "batch/dlq/resolve",
                    rows.map((r) => r.id),
                    "resolved",
                  )(),
              },
            ]
          : [],
        empty: teach(
          `No ${this.status} dead letters. A retry job that exhausts its attempts, a webhook delivery that gives up and a message a handler could not process land here.`,
        ),
      }),
    );
  }
}
