// Webhook endpoints and their delivery log: create, test, redeliver, rotate.
import { all, api } from "./api.js";
import { eventTypePicker, headerLines, numberOr, parseHeaders } from "./forms.js";
import { dataTable, explain, field, fmtMs, fmtTime, fmtWhen, guarded, h, menu, notify, statusBadge, teach, writeButton } from "./ui.js";
import { errorText, linkTo, mono, View } from "./view.js";

export class Webhooks extends View {
  constructor() {
    super("Webhooks", ["webhook."]);
    this.selected = null;
    this.secret = null; // {id, secret}: shown once, after creation or rotation
    this.creating = false;
    this.formNode = null;
  }

  /** ``#webhooks?edit=whk_…`` opens that endpoint's form (an endpoint's page links here). */
  applyQuery(params) {
    this.editId = params.get("edit");
  }

  async load() {
    const endpoints = await all("webhooks", {}, 200);
    if (this.editId) {
      this.creating = endpoints.find((e) => e.id === this.editId) || false;
      this.formNode = null;
      this.editId = null;
    }
    if (this.selected && !endpoints.some((e) => e.id === this.selected)) this.selected = null;
    const deliveries = this.selected ? await api(`webhooks/${this.selected}/deliveries`, { query: { limit: 100 } }) : null;
    if (this.creating && !this.formNode) this.formNode = this.form(this.creating === true ? {} : this.creating); // kept while open
    this.show(
      h(
        "div",
        { class: "table-head" },
        writeButton("New endpoint", () => {
          this.creating = true;
          this.formNode?.remove(); // nothing typed from here on lands in the form open until now
          this.formNode = null;
          this.refresh();
        }),
      ),
      this.secret
        ? h(
            "div",
            { class: "panel", role: "alert" },
            h("p", {}, `Signing secret for ${this.secret.id}. It is shown only now: store it with the receiver.`),
            h("p", { class: "secret", "data-secret": "" }, this.secret.secret),
            h(
              "button",
              {
                type: "button",
                class: "quiet",
                onclick: () => {
                  this.secret = null;
                  this.refresh();
                },
              },
              "I have stored it",
            ),
          )
        : null,
      this.creating ? this.formNode : null,
      dataTable({
        name: "webhooks",
        title: "Endpoints",
        rows: endpoints,
        columns: [
          {
            key: "url",
            label: "URL",
            cell: (r) => h("span", { class: "named" }, linkTo(r.id, r.description || r.url), h("br"), h("code", { class: "url" }, r.url)),
          },
          { key: "event_types", label: "Events", raw: (r) => r.event_types.join(" "), cell: (r) => r.event_types.join(", ") },
          {
            key: "enabled",
            label: "State",
            raw: (r) => (r.enabled ? "enabled" : `disabled: ${r.disabled_reason || ""}`),
            cell: (r) => (r.enabled ? statusBadge("enabled") : h("span", {}, statusBadge("disabled"), " ", r.disabled_reason || "")),
          },
          { key: "consecutive_failures", label: "Failures in a row" },
        ],
        // one primary action (test a working endpoint, enable a disabled one), the rest quiet
        actions: (r) => [
          r.enabled
            ? writeButton(
                "Send test",
                this.act(() => api(`webhooks/${r.id}/test`, { method: "POST" }), "Test event sent."),
              )
            : writeButton(
                "Enable",
                this.act(
                  () => api(`webhooks/${r.id}`, { method: "PUT", body: { ...endpointFields(r), enabled: true } }),
                  `${r.url}: enabled.`,
                ),
              ),
          h(
            "button",
            {
              type: "button",
              class: "quiet",
              "aria-pressed": String(this.selected === r.id),
              onclick: () => {
                this.selected = r.id;
                this.refresh();
              },
            },
            "Deliveries",
          ),
          menu([
            writeButton(
              "Edit",
              () => {
                this.creating = r;
                this.formNode?.remove(); // nothing typed from here on lands in the form open until now
                this.formNode = null;
                this.refresh().then(() => this.container.querySelector("#webhook-url")?.focus());
              },
              { class: "quiet" },
            ),
            writeButton(
              "Rotate secret",
              async () => {
                const rotated = await api(`webhooks/${r.id}/rotate-secret`, { method: "POST" });
                this.secret = { id: r.id, secret: rotated.secret };
                await this.load();
              },
              { class: "quiet", confirm: "Rotate the signing secret? The old one keeps working for 24 hours." },
            ),
            writeButton(
              "Delete",
              this.act(() => api(`webhooks/${r.id}`, { method: "DELETE" }), `${r.url}: deleted.`),
              { class: "quiet", confirm: `Delete the endpoint ${r.url}? Its deliveries stop at once.` },
            ),
          ]),
        ],
        empty: teach("No webhook endpoints yet. Add one above (conductor listen makes one on your machine), or:", {
          method: "POST",
          path: "webhooks",
          body: { url: "https://example.com/hooks", event_types: ["error.*", "schedule.*"] },
        }),
      }),
      deliveries
        ? dataTable({
            name: "deliveries",
            title: "Delivery log",
            rows: deliveries.items,
            columns: [
              { key: "id", label: "Id", cell: (r) => linkTo(r.id, mono(r.id)) },
              { key: "event_type", label: "Event" },
              { key: "status", label: "Status", cell: (r) => statusBadge(r.status) },
              { key: "attempt_count", label: "Attempts", cell: (r) => deliveryAttempts(r) },
              { key: "next_attempt_at", label: "Next attempt", cell: (r) => fmtWhen(r.next_attempt_at) },
              { key: "created_at", label: "Created", cell: (r) => fmtTime(r.created_at) },
            ],
            actions: (r) => [
              writeButton(
                "Redeliver",
                this.act(() => api(`webhooks/deliveries/${r.id}/redeliver`, { method: "POST" }), `${r.id}: queued again.`),
              ),
            ],
            empty: teach("No deliveries to this endpoint yet. Send a test, or publish an event it listens to:", {
              method: "POST",
              path: "events",
              body: { type: "custom.hello", data: {} },
            }),
          })
        : h("p", { class: "muted" }, "Choose an endpoint's Deliveries to see its delivery log."),
    );
  }

  form(endpoint) {
    const isNew = !endpoint.id;
    const url = h("input", { id: "webhook-url", required: true, type: "url", placeholder: "https://…/hooks", value: endpoint.url || "" });
    const types = h("input", {
      id: "webhook-events",
      required: true,
      value: (endpoint.event_types || ["*"]).join(" "),
      "aria-describedby": "webhook-events-hint",
    });
    const description = h("input", { id: "webhook-description", maxlength: 500, value: endpoint.description || "" });
    const headers = h(
      "textarea",
      { id: "webhook-headers", rows: 2, spellcheck: "false", placeholder: "X-Team: billing" },
      headerLines(endpoint.headers),
    );
    const rateLimit = h("input", {
      id: "webhook-rate-limit",
      type: "number",
      min: 1,
      max: 1000,
      value: endpoint.rate_limit ?? "",
      placeholder: "none",
    });
    const maxAttempts = h("input", { id: "webhook-max-attempts", type: "number", min: 1, max: 8, value: endpoint.max_attempts ?? 3 });
    const retrySchedule = h("input", {
      id: "webhook-retry-schedule",
      value: (endpoint.retry_schedule || []).join(", "),
      placeholder: "default: exponential with jitter",
    });
    const problem = h("p", { class: "error-text", role: "alert" });
    const title = isNew ? "New endpoint" : `Edit ${endpoint.description || endpoint.url}`;
    const form = h(
      "form",
      { class: "panel", "aria-label": title, "data-form": "webhook" },
      h("h3", {}, title),
      h(
        "div",
        { class: "form-grid" },
        field("URL", url),
        field("Event types", types, "space-separated: *, schedule.*, error.dead_lettered"),
        field("Description", description),
        field("Headers", headers, "one Name: value a line, sent with every delivery"),
        field("Rate limit (per second)", rateLimit, "empty: none"),
        field("Attempts", maxAttempts, "1–8; with a retry schedule, its length + 1"),
        field("Retry after (s)", retrySchedule, "comma-separated seconds before each retry"),
      ),
      eventTypePicker(types),
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
              this.creating = false;
              this.formNode = null;
              this.refresh();
            },
          },
          "Cancel",
        ),
      ),
    );
    types.nextElementSibling.id = "webhook-events-hint";
    form.addEventListener(
      "submit",
      guarded(async (e) => {
        e.preventDefault();
        let body;
        try {
          const schedule = retrySchedule.value
            .split(",")
            .map((v) => v.trim())
            .filter(Boolean)
            .map(Number);
          body = {
            url: url.value.trim(),
            event_types: types.value.split(/[\s,]+/).filter(Boolean),
            description: description.value.trim() || null,
            headers: parseHeaders(headers.value),
            rate_limit: numberOr(rateLimit),
            max_attempts: numberOr(maxAttempts, 3),
            retry_schedule: schedule.length ? schedule : null,
          };
          if (schedule.length) delete body.max_attempts; // a schedule sets them: its length + 1
          if (isNew) {
            const created = await api("webhooks", { method: "POST", body });
            this.secret = { id: created.id, secret: created.secret };
            this.selected = created.id;
          } else {
            await api(`webhooks/${endpoint.id}`, {
              method: "PUT",
              body: { ...body, enabled: endpoint.enabled },
            });
            notify(`${body.url}: saved.`, "ok");
          }
        } catch (err) {
          problem.textContent = explain(err);
          return;
        }
        if (this.formNode === form) {
          // still the form open: it closes (another opened meanwhile stays open)
          this.creating = false;
          this.formNode = null;
        }
        await this.load();
      }),
    );
    return form;
  }
}

/** The writable fields of an endpoint, for a full PUT that changes one of them. */
export const endpointFields = (e) => ({
  url: e.url,
  event_types: e.event_types,
  description: e.description,
  headers: e.headers,
  rate_limit: e.rate_limit,
  max_attempts: e.max_attempts,
  retry_schedule: e.retry_schedule,
});

function deliveryAttempts(delivery) {
  const details = h("details", {}, h("summary", {}, `${delivery.attempt_count} of ${delivery.max_attempts}`));
  details.addEventListener(
    "toggle",
    guarded(async () => {
      if (!details.open || details.dataset.loaded) return;
      const full = await api(`webhooks/deliveries/${delivery.id}`);
      details.dataset.loaded = "1";
      details.append(
        h(
          "ol",
          { class: "attempts" },
          full.attempts.map((a) =>
            h(
              "li",
              {},
              `${fmtTime(a.started_at)}: `,
              a.status_code ? `HTTP ${a.status_code}` : errorText(a.error),
              `, ${fmtMs(a.duration_ms)}`,
            ),
          ),
        ),
      );
    }),
  );
  return details;
}
