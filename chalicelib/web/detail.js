// Detail pages with their own URLs (#errors/rty_…, #dead-letters/dlq_…, #schedules/sch_…,
// #webhooks/whk_…, #deliveries/dlv_…), and the chain that ties one failure together: the schedule
// run that failed, its retry job and attempts, the breaker that held them, the dead letter, the
// replay and the replay's outcome, each a link both ways.
import { all, api, session } from "./api.js";
import { fmtMs, fmtNum, fmtTime, fmtWhen, h, statusBadge, writeButton } from "./ui.js";
import { copyable, errorText, linkTo, mono, View } from "./view.js";
import { endpointFields } from "./view-webhooks.js";

const facts = (pairs) =>
  h(
    "dl",
    { class: "facts" },
    pairs.filter(Boolean).map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value ?? "—"))),
  );
const section = (title, ...content) => h("section", { class: "detail-part", "aria-label": title }, h("h3", {}, title), ...content);
const pre = (value) => h("pre", { class: "mono payload" }, typeof value === "string" ? value : JSON.stringify(value, null, 2));
/** A small table that stacks its rows on a phone (each cell labelled with its column). */
function stackTable(name, columns, rows) {
  return h(
    "table",
    { class: `stack ${name}` },
    h("caption", {}, name),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map(([label]) => h("th", { scope: "col" }, label)),
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h(
          "tr",
          { "data-id": row.id ?? null },
          columns.map(([label, cell]) => h("td", { "data-label": label }, cell(row))),
        ),
      ),
    ),
  );
}
const targetText = (t) =>
  t?.type === "http"
    ? `${t.method || "POST"} ${t.url}`
    : t?.type === "sqs"
      ? `SQS ${t.queue_url || t.queue}`
      : t?.type === "event"
        ? `event ${t.event_type}`
        : JSON.stringify(t);

/**
 * A page about one thing: ``load`` reads it and shows it, headed by its name. ``back`` is the list
 * view it belongs to ([view, label]): its breadcrumb, and the navigation entry marked current.
 */
class Detail extends View {
  constructor(kind, id, back) {
    super(kind, []);
    this.kind = kind;
    this.id = id;
    this.back = back;
  }

  retitle(name) {
    this.title = name;
    document.getElementById("view-title").textContent = name;
    document.title = `${name} · Conductor`;
  }

  onEvent(event) {
    // only events that name this thing reload it
    if (JSON.stringify(event.data || {}).includes(this.id)) this.reloadSoon();
  }

  head(status) {
    return h(
      "div",
      { class: "detail-head" },
      h("p", { class: "crumbs" }, h("a", { href: `#${this.back[0]}` }, this.back[1]), " / ", this.kind),
      h("p", {}, status ? statusBadge(status) : null, " ", copyable(this.id)),
    );
  }
}

// --- the chain ------------------------------------------------------------------------------------

const MAX_HOPS = 4; // replays of replays: each hop is a job and its dead letter (2 reads)

/**
 * The failure's whole story from its root job: where it came from, each job with its breaker and
 * dead letter, and each replay. At most 2 reads per hop plus the schedule and the breaker.
 */
async function chainOf(start) {
  let job = start.job ?? (start.jobId ? await api(`errors/retry/${start.jobId}`) : null);
  if (!job) return [];
  const seen = new Set([job.id]);
  for (let i = 0; i < MAX_HOPS && job.origin?.type === "replay"; i++) {
    const letter = await api(`dlq/${job.origin.dead_letter_id}`);
    if (!letter.retry_job_id || seen.has(letter.retry_job_id)) break;
    job = await api(`errors/retry/${letter.retry_job_id}`);
    seen.add(job.id);
  }
  const steps = [];
  if (job.origin?.type === "schedule_run") {
    const schedule = await api(`schedules/${job.origin.schedule_id}`).catch(() => null);
    steps.push({
      kind: "Schedule run",
      id: job.origin.schedule_id,
      label: schedule ? schedule.name : job.origin.schedule_id,
      note: `run ${job.origin.execution_id}`,
      status: "failed",
    });
  } else {
    steps.push({ kind: "Handed over", label: "by the API", note: job.service });
  }
  const breaker = await api(`errors/circuit-breaker/${job.service}`).catch(() => null);
  for (let i = 0; job && i < MAX_HOPS; i++) {
    steps.push({
      kind: i ? "Replay" : "Retry job",
      id: job.id,
      label: job.id,
      status: job.status,
      note: `${job.attempt_count} attempt${job.attempt_count === 1 ? "" : "s"}`,
    });
    if (i === 0 && breaker)
      steps.push({
        kind: "Breaker",
        label: job.service,
        status: breaker.state,
        note: breaker.state === "closed" ? "let the attempts through" : "held the attempts",
      });
    if (!job.dead_letter_id) break;
    const letter = await api(`dlq/${job.dead_letter_id}`);
    steps.push({ kind: "Dead letter", id: letter.id, label: letter.id, status: letter.status, note: errorText(letter.error) });
    job = letter.replay_job_id ? await api(`errors/retry/${letter.replay_job_id}`) : null;
  }
  return steps;
}

/** What a page is about, in words: the schedule a run's failure came from, else the service. */
const subjectOf = (steps, service) => (steps[0]?.kind === "Schedule run" ? steps[0].label : service);

function chainList(steps, here) {
  if (!steps.length) return null;
  return section(
    "From failure to replay",
    h(
      "ol",
      { class: "chain" },
      steps.map((step) =>
        h(
          "li",
          { "aria-current": step.id === here ? "step" : null, "data-step": step.kind },
          h("span", { class: "chain-kind" }, step.kind),
          step.id && step.id !== here ? linkTo(step.id, step.label) : h("strong", {}, step.label),
          step.status ? statusBadge(step.status) : null,
          step.note ? h("span", { class: "muted" }, step.note) : null,
        ),
      ),
    ),
  );
}

// --- a retry job ----------------------------------------------------------------------------------

/**
 * One attempt on a timeline: a retry job's or a delivery's (``status``: its outcome; ``error``:
 * text; ``response``: the receiver's body or excerpt; ``next``: what happens after it).
 */
function attemptItem({ number, status, started_at, duration_ms, status_code, error, response, next }) {
  return h(
    "li",
    { "data-attempt": number },
    h(
      "p",
      {},
      h("strong", {}, `Attempt ${number}`),
      " ",
      statusBadge(status),
      ` ${fmtTime(started_at)} · ${fmtMs(duration_ms)}`,
      status_code ? ` · HTTP ${status_code}` : "",
    ),
    error ? h("p", {}, error) : null,
    response ? h("details", {}, h("summary", {}, "Response"), pre(response)) : null,
    next ? h("p", { class: "muted" }, next) : null,
  );
}

/** A retry job's attempt as ``attemptItem`` takes it. */
const jobAttempt = (a) => ({
  ...a,
  status: a.outcome,
  error: a.error_type ? `${a.error_type}: ${a.error_message || ""}` : null,
  response: a.response_excerpt,
  next: a.next_delay_seconds !== null && a.next_delay_seconds !== undefined ? `next attempt ${a.next_delay_seconds} s later` : null,
});

/** A delivery's attempt as ``attemptItem`` takes it. */
const deliveryAttempt = (a) => ({
  ...a,
  status: a.status_code && a.status_code < 300 ? "delivered" : "failed",
  error: a.error ? errorText(a.error) : null,
  response: a.response_body,
  next: null,
});

export class JobPage extends Detail {
  constructor(id) {
    super("Retry job", id, ["errors", "Errors"]);
  }

  async load() {
    const job = await api(`errors/retry/${this.id}`);
    const attempts = job.attempts?.length || !job.attempt_count ? job.attempts : await all(`errors/retry/${this.id}/attempts`, {}, 200);
    const steps = await chainOf({ job });
    this.retitle(`${subjectOf(steps, job.service)}: retry job`);
    const policy = job.retry_policy || {};
    this.show(
      this.head(job.status),
      h(
        "div",
        { class: "detail-actions" },
        job.status === "dead_lettered" && job.dead_letter_id
          ? writeButton(
              "Retry",
              this.act(() => api(`dlq/${job.dead_letter_id}/replay`, { method: "POST" }), "Retried as a new job."),
              { class: "primary" },
            )
          : null,
        ["scheduled", "running", "dead_lettered"].includes(job.status)
          ? writeButton(
              "Resolve",
              this.act(() => api("errors/resolve", { method: "POST", body: { id: job.id } }), "Resolved."),
              { class: "quiet", confirm: "Resolve this job? It will not be retried again." },
            )
          : null,
      ),
      facts([
        ["Service", job.service],
        ["Target", targetText(job.target)],
        ["Error", errorText(job.error)],
        ["Attempts", `${job.attempt_count} of ${policy.max_attempts ?? "?"}`],
        [
          "Backoff",
          policy.strategy
            ? `${policy.strategy} from ${policy.initial_delay_seconds} s up to ${policy.max_delay_seconds} s, ${policy.jitter} jitter`
            : "—",
        ],
        ["Next attempt", fmtWhen(job.next_attempt_at)],
        ["Created", fmtTime(job.created_at)],
        ["Finished", fmtTime(job.finished_at)],
        job.note ? ["Note", job.note] : null,
      ]),
      chainList(steps, job.id),
      section(
        "Attempts",
        attempts.length
          ? h(
              "ol",
              { class: "attempt-timeline" },
              attempts.map((a) => attemptItem(jobAttempt(a))),
            )
          : h("p", { class: "muted" }, "No attempt has run yet."),
      ),
    );
  }
}

// --- a dead letter --------------------------------------------------------------------------------

export class DeadLetterPage extends Detail {
  constructor(id) {
    super("Dead letter", id, ["dead-letters", "Dead letters"]);
  }

  async load() {
    const letter = await api(`dlq/${this.id}`);
    const steps = letter.retry_job_id ? await chainOf({ jobId: letter.retry_job_id }) : [];
    this.retitle(`${subjectOf(steps, letter.service)}: dead letter`);
    this.show(
      this.head(letter.status),
      h(
        "div",
        { class: "detail-actions" },
        letter.status === "open"
          ? writeButton(
              "Replay",
              this.act(() => api(`dlq/${letter.id}/replay`, { method: "POST" }), "Replayed as a new retry job."),
              { class: "primary" },
            )
          : null,
        letter.status === "open"
          ? writeButton(
              "Resolve",
              this.act(() => api(`dlq/${letter.id}/resolve`, { method: "POST" }), "Resolved."),
              { class: "quiet", confirm: "Resolve this dead letter? It will not be replayed." },
            )
          : null,
      ),
      facts([
        ["Source", letter.source],
        ["Service", letter.service],
        ["Error", errorText(letter.error)],
        ["Attempts made", fmtNum(letter.attempts)],
        ["Group", mono(letter.fingerprint)],
        ["Retry job", linkTo(letter.retry_job_id)],
        // a webhook delivery's dead letter shares its id's random part (one per delivery)
        letter.source === "webhook" ? ["Delivery", linkTo(`dlv_${letter.id.slice("dlq_".length)}`)] : null,
        ["Replayed as", linkTo(letter.replay_job_id)],
        ["Created", fmtTime(letter.created_at)],
        ["Resolved", fmtTime(letter.resolved_at)],
        letter.note ? ["Note", letter.note] : null,
      ]),
      chainList(steps, letter.id),
      section("Payload (what a replay sends)", pre(letter.payload)),
    );
  }
}

// --- a schedule -----------------------------------------------------------------------------------

export class SchedulePage extends Detail {
  constructor(id) {
    super("Schedule", id, ["schedules", "Schedules"]);
  }

  async load() {
    const [schedule, history] = await Promise.all([
      api(`schedules/${this.id}`),
      api(`schedules/${this.id}/history`, { query: { limit: 20 } }),
    ]);
    this.retitle(schedule.name);
    const zone = schedule.timezone;
    const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const counters = schedule.counters || {};
    this.show(
      this.head(schedule.enabled ? "enabled" : "paused"),
      h(
        "div",
        { class: "detail-actions" },
        writeButton(
          "Run now",
          this.act(() => api(`schedules/${schedule.id}/execute`, { method: "POST" }), "Run started."),
          { class: "primary" },
        ),
        schedule.enabled
          ? writeButton(
              "Pause",
              this.act(() => api(`schedules/${schedule.id}/pause`, { method: "POST" }), "Paused."),
              { class: "quiet" },
            )
          : writeButton(
              "Resume",
              this.act(() => api(`schedules/${schedule.id}/resume`, { method: "POST" }), "Resumed."),
              { class: "quiet" },
            ),
      ),
      facts([
        [
          "When",
          h(
            "span",
            { class: "named" },
            schedule.expression_words ? `${schedule.expression_words} (${zone})` : zone,
            h("br"),
            mono(schedule.expression),
          ),
        ],
        ["Target", targetText(schedule.target)],
        ["Retries", `up to ${schedule.retry_policy?.max_attempts ?? "?"} attempts, ${schedule.retry_policy?.strategy ?? "?"}`],
        ["Runs", `${fmtNum(counters.runs)} (${fmtNum(counters.failures)} failed)`],
        ["Last run", fmtTime(counters.last_run_at)],
        ["Pause after", schedule.pause_after_failures ? `${schedule.pause_after_failures} failed runs in a row` : "never"],
        ["Overlap", (schedule.overlap_policy || "skip").replace("_", " ")],
        [
          "Flexible window",
          schedule.flexible_time_window?.mode === "FLEXIBLE" ? `${schedule.flexible_time_window.maximum_window_minutes} min` : "off",
        ],
        ["Runs left", schedule.remaining_actions ?? "no limit"],
        ["After its last run", schedule.action_after_completion === "delete" ? "deleted" : "kept"],
        [
          "History kept",
          schedule.history_limits
            ? `newest ${schedule.history_limits.succeeded} succeeded, ${schedule.history_limits.failed} failed`
            : "every run until it expires",
        ],
        schedule.paused_note ? ["Paused because", schedule.paused_note] : null,
        schedule.tags?.length ? ["Tags", schedule.tags.join(", ")] : null,
      ]),
      section(
        "Upcoming runs",
        stackTable(
          "upcoming",
          [
            [`In ${zone}`, (run) => fmtTime(run, zone)],
            [`In your zone (${viewerZone})`, (run) => fmtWhen(run)],
          ],
          schedule.next_runs || [],
        ),
      ),
      section(
        "Recent runs",
        history.items.length
          ? stackTable(
              "runs",
              [
                ["Scheduled for", (run) => fmtTime(run.scheduled_for, zone)],
                ["Trigger", (run) => run.trigger],
                ["Status", (run) => statusBadge(run.status)],
                // how late it started against its planned start (its time plus its offset)
                [
                  "Started",
                  (run) => (run.start_delay_ms === null || run.start_delay_ms === undefined ? "—" : `${fmtMs(run.start_delay_ms)} late`),
                ],
                ["Took", (run) => fmtMs(run.duration_ms)],
                ["Error", (run) => (run.error ? errorText(run.error) : "—")],
                ["Retry job", (run) => linkTo(run.retry_job_id)],
              ],
              history.items,
            )
          : h("p", { class: "muted" }, "No run yet."),
      ),
    );
  }
}

// --- a webhook endpoint and its deliveries --------------------------------------------------------

const DELIVERY_STATUSES = ["", "pending", "delivered", "failed", "skipped"];

export class EndpointPage extends Detail {
  constructor(id) {
    super("Webhook endpoint", id, ["webhooks", "Webhooks"]);
    this.filters = { status: "", event_type: "" };
    this.cursors = [undefined]; // the page cursors walked so far: "Newer" goes back one
  }

  async load() {
    const cursor = this.cursors.at(-1);
    const [endpoint, deliveries] = await Promise.all([
      api(`webhooks/${this.id}`),
      api(`webhooks/${this.id}/deliveries`, { query: { ...this.filters, limit: 25, cursor } }),
    ]);
    this.retitle(endpoint.description || endpoint.url);
    const status = h(
      "select",
      { name: "status" },
      DELIVERY_STATUSES.map((s) => h("option", { value: s, selected: s === this.filters.status }, s || "Any status")),
    );
    const eventType = h("input", { name: "event_type", value: this.filters.event_type, placeholder: "e.g. schedule.failed" });
    const form = h(
      "form",
      { class: "filters", "aria-label": "Filter deliveries" },
      h("label", {}, "Status ", status),
      h("label", {}, "Event type ", eventType),
      h("button", { type: "submit" }, "Apply"),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.filters = { status: status.value, event_type: eventType.value.trim() };
      this.cursors = [undefined];
      this.refresh();
    });
    const page = (change) => () => {
      change();
      this.refresh();
    };
    this.show(
      this.head(endpoint.enabled ? "enabled" : "disabled"),
      h(
        "div",
        { class: "detail-actions" },
        endpoint.enabled
          ? writeButton(
              "Send test",
              this.act(() => api(`webhooks/${endpoint.id}/test`, { method: "POST" }), "Test event sent."),
              { class: "primary" },
            )
          : writeButton(
              "Enable",
              this.act(
                () => api(`webhooks/${endpoint.id}`, { method: "PUT", body: { ...endpointFields(endpoint), enabled: true } }),
                "Enabled.",
              ),
              { class: "primary" },
            ),
        endpoint.enabled
          ? writeButton(
              "Disable",
              this.act(
                () => api(`webhooks/${endpoint.id}`, { method: "PUT", body: { ...endpointFields(endpoint), enabled: false } }),
                "Disabled.",
              ),
              { class: "quiet", confirm: "Disable this endpoint? Events stop reaching it." },
            )
          : null,
        writeButton(
          "Recover failed (24 h)",
          this.act(
            () =>
              api(`webhooks/${endpoint.id}/recover`, { method: "POST", body: { since: new Date(Date.now() - 86400000).toISOString() } }),
            "Failed deliveries sent again.",
          ),
          { class: "quiet" },
        ),
        session.canWrite ? h("a", { class: "button-link", href: `#webhooks?edit=${endpoint.id}` }, "Edit settings") : null,
      ),
      facts([
        ["URL", h("code", { class: "url" }, endpoint.url)],
        ["Events", endpoint.event_types.join(", ")],
        [
          "Retries",
          endpoint.retry_schedule
            ? `after ${endpoint.retry_schedule.join(", ")} s`
            : `up to ${endpoint.max_attempts} attempts, default backoff`,
        ],
        ["Rate limit", endpoint.rate_limit ? `${endpoint.rate_limit}/s` : "none"],
        ["Failures in a row", fmtNum(endpoint.consecutive_failures)],
        endpoint.disabled_reason ? ["Disabled because", endpoint.disabled_reason] : null,
        ["Created", fmtTime(endpoint.created_at)],
      ]),
      section(
        "Deliveries",
        form,
        deliveries.items.length
          ? stackTable(
              "deliveries",
              [
                ["Delivery", (d) => linkTo(d.id)],
                ["Event", (d) => d.event_type],
                ["Status", (d) => statusBadge(d.status)],
                ["Attempts", (d) => `${d.attempt_count} of ${d.max_attempts}`],
                ["Next attempt", (d) => fmtWhen(d.next_attempt_at)],
                ["Created", (d) => fmtTime(d.created_at)],
              ],
              deliveries.items,
            )
          : h("p", { class: "muted" }, "No delivery matches."),
        h(
          "p",
          { class: "pager" },
          this.cursors.length > 1
            ? h("button", { type: "button", class: "quiet", onclick: page(() => this.cursors.pop()) }, "Newer")
            : null,
          deliveries.next_cursor
            ? h("button", { type: "button", class: "quiet", onclick: page(() => this.cursors.push(deliveries.next_cursor)) }, "Older")
            : null,
        ),
      ),
    );
  }
}

export class DeliveryPage extends Detail {
  constructor(id) {
    super("Delivery", id, ["webhooks", "Webhooks"]);
  }

  async load() {
    const d = await api(`webhooks/deliveries/${this.id}`);
    this.retitle(`${d.event_type}: delivery`);
    this.show(
      this.head(d.status),
      h(
        "div",
        { class: "detail-actions" },
        writeButton(
          "Redeliver",
          this.act(() => api(`webhooks/deliveries/${d.id}/redeliver`, { method: "POST" }), "Sent again."),
          { class: "primary" },
        ),
      ),
      facts([
        ["Endpoint", linkTo(d.webhook_id)],
        ["Event", mono(d.event_id)],
        ["Attempts", `${d.attempt_count} of ${d.max_attempts}`],
        ["Next attempt", fmtWhen(d.next_attempt_at)],
        d.skipped_reason ? ["Waiting because", d.skipped_reason] : null,
        ["Dead letter", linkTo(d.dead_letter_id)],
        ["Created", fmtTime(d.created_at)],
      ]),
      section(
        "Attempts",
        d.attempts.length
          ? h(
              "ol",
              { class: "attempt-timeline" },
              d.attempts.map((a) => attemptItem(deliveryAttempt(a))),
            )
          : h("p", { class: "muted" }, "No attempt yet."),
      ),
      section("Payload", pre(d.payload)),
    );
  }
}

/** The page for ``#<view>/<id>``, or null for a list view's hash. */
export function detailFor(id) {
  const make = { rty: JobPage, dlq: DeadLetterPage, sch: SchedulePage, whk: EndpointPage, dlv: DeliveryPage }[String(id).split("_")[0]];
  return make ? new make(id) : null;
}
