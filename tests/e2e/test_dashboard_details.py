"""The console's detail pages (their own URLs) and the chain from a failed schedule run to its
replay's outcome, walked in Debian's Chromium against the local runtime.

A receiver on 127.0.0.1 answers 500 until the test lets it succeed: the schedule's run fails, its
retry job fails and dead-letters, and the replay made from the dead letter's page succeeds.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_KEY, Runtime
from tests.e2e.dashboard_page import Page, call, make_dead_letter, new_key, until

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
#: elements that reach past the right edge of the screen (a page wider than a phone's)
WIDER_THAN_THE_SCREEN = """document.documentElement.scrollWidth <= innerWidth ? [] :
  [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > innerWidth + 1 || e.scrollWidth > e.clientWidth + 1)
  .filter((e, _, wide) => !wide.some((other) => other !== e && e.contains(other)))
  .map((e) => `${e.tagName.toLowerCase()}.${e.className}: ${e.textContent.slice(0, 40)}`).slice(-8)"""


class Flaky:
    """An HTTP receiver on 127.0.0.1 answering ``status`` to every POST."""

    def __init__(self) -> None:
        self.status = 500
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"ok": owner.status < 300}).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Flaky]:
    flaky = Flaky()
    yield flaky
    flaky.server.shutdown()


@pytest.fixture(scope="module")
def failed_run(runtime: Runtime, receiver: Flaky) -> dict[str, Any]:
    """A schedule whose run failed, was retried once, and dead-lettered."""
    schedule = call(
        runtime,
        "POST",
        "schedules",
        {
            "name": "Nightly invoices",
            "expression": "cron(0 9 * * ? *)",
            "timezone": "Europe/Berlin",
            "target": {"type": "http", "url": receiver.url},
            "retry_policy": {"max_attempts": 2, "initial_delay_seconds": 0},
        },
    )
    call(runtime, "POST", f"schedules/{schedule['id']}/execute")
    run = until(
        lambda: next(
            (
                r
                for r in call(runtime, "GET", f"schedules/{schedule['id']}/history")["items"]
                if r.get("retry_job_id")
            ),
            None,
        ),
        timeout=60,
    )
    job_id = run["retry_job_id"]
    letter_id = until(lambda: call(runtime, "GET", f"errors/retry/{job_id}")["dead_letter_id"], timeout=60)
    return {"schedule": schedule, "run": run, "job_id": job_id, "letter_id": letter_id}


def wait_for_page(tab: Page, kind: str) -> None:
    tab.page.wait_for_selector(f"#view[data-detail='{kind}'] #view-body[aria-busy=false]")


def test_the_chain_walks_from_a_failed_run_to_its_replays_outcome(
    tab: Page, runtime: Runtime, receiver: Flaky, failed_run: dict[str, Any]
) -> None:
    page = tab.page
    tab.sign_in(ADMIN_KEY)
    schedule, job_id, letter_id = failed_run["schedule"], failed_run["job_id"], failed_run["letter_id"]
    # the schedule's page has its own URL, its upcoming runs in both zones and the failed run
    page.goto(f"{runtime.api}/dashboard#schedules/{schedule['id']}")
    wait_for_page(tab, "Schedule")
    expect(page.locator("#view-title")).to_have_text("Nightly invoices")
    expect(page.locator("#nav a[data-view=schedules]")).to_have_attribute("aria-current", "page")
    expect(page.locator(".facts")).to_contain_text("At 09:00 (Europe/Berlin)")
    expect(page.locator(".upcoming th").first).to_have_text("In Europe/Berlin")
    expect(page.locator(".upcoming tbody td").first).to_contain_text("09:00:00")
    tab.shot("detail-schedule")
    # from the run to its retry job: each attempt with its status
    page.click(f".runs a[data-link='{job_id}']")
    wait_for_page(tab, "Retry job")
    assert page.url.endswith(f"#errors/{job_id}")
    expect(page.locator("#view-title")).to_have_text("Nightly invoices: retry job")
    expect(page.locator(".attempt-timeline li")).to_have_count(1)
    expect(page.locator(".attempt-timeline li").first).to_contain_text("HTTP 500")
    steps = page.locator(".chain li")
    expect(steps.nth(0)).to_contain_text("Schedule run")
    expect(steps.nth(0).locator("a")).to_have_text("Nightly invoices")
    expect(page.locator(".chain li[aria-current=step]")).to_contain_text(job_id)
    expect(page.locator(".chain li[data-step=Breaker]")).to_contain_text("closed")
    tab.shot("detail-job")
    # to the dead letter, which is replayed once the receiver works again
    page.click(f".chain a[data-link='{letter_id}']")
    wait_for_page(tab, "Dead letter")
    expect(page.locator(".payload")).to_contain_text(receiver.url)
    tab.shot("detail-dead-letter")
    receiver.status = 200
    page.click("button:text-is('Replay')")
    replay = until(lambda: call(runtime, "GET", f"dlq/{letter_id}")["replay_job_id"])
    until(lambda: call(runtime, "GET", f"errors/retry/{replay}")["status"] == "succeeded")
    # the chain now ends in the replay's outcome, and every step links both ways
    replay_step = page.locator(".chain li[data-step=Replay]")
    expect(replay_step).to_contain_text("succeeded")
    replay_step.locator("a").click()
    wait_for_page(tab, "Retry job")
    assert page.url.endswith(f"#errors/{replay}")
    expect(page.locator(".chain li[aria-current=step]")).to_contain_text("succeeded")
    page.locator(".chain li").nth(0).locator("a").click()
    wait_for_page(tab, "Schedule")
    assert page.url.endswith(f"#schedules/{schedule['id']}")
    # the browser's back button walks the same way back
    page.go_back()
    wait_for_page(tab, "Retry job")
    assert page.url.endswith(f"#errors/{replay}")


def test_list_rows_link_to_their_pages_and_ids_copy(
    tab: Page, runtime: Runtime, failed_run: dict[str, Any]
) -> None:
    page = tab.page
    tab.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab.sign_in(ADMIN_KEY)
    tab.open("errors")
    page.click(f"[data-table=retry-jobs] a[data-link='{failed_run['job_id']}']")
    wait_for_page(tab, "Retry job")
    page.click(f"button[aria-label='Copy {failed_run['job_id']}']")
    expect(page.locator("#notice")).to_have_text(f"Copied {failed_run['job_id']}.")
    assert page.evaluate("navigator.clipboard.readText()") == failed_run["job_id"]
    tab.open("schedules")
    page.click(f"[data-table=schedules] a[data-link='{failed_run['schedule']['id']}']")
    wait_for_page(tab, "Schedule")
    expect(page.locator("#view-title")).to_have_text("Nightly invoices")


def test_an_endpoints_page_filters_and_pages_its_deliveries(
    tab: Page, runtime: Runtime, receiver: Flaky
) -> None:
    receiver.status = 200
    endpoint = call(
        runtime,
        "POST",
        "webhooks",
        {"url": receiver.url, "event_types": ["custom.*"], "description": "Billing receiver"},
    )
    for i in range(27):
        call(
            runtime, "POST", "events", {"type": "custom.page" if i % 3 else "custom.other", "data": {"i": i}}
        )
    until(
        lambda: len(
            call(
                runtime,
                "GET",
                f"webhooks/{endpoint['id']}/deliveries",
            )["items"]
        )
        >= 25
        and not any(
            d["status"] == "pending"
            for d in call(
                runtime,
                "GET",
                f"webhooks/{endpoint['id']}/deliveries",
            )["items"]
        )
    )
    page = tab.page
    tab.sign_in(ADMIN_KEY)
    page.goto(f"{runtime.api}/dashboard#webhooks/{endpoint['id']}")
    wait_for_page(tab, "Webhook endpoint")
    expect(page.locator("#view-title")).to_have_text("Billing receiver")
    expect(page.locator(".deliveries tbody tr")).to_have_count(25)
    page.click("button:text-is('Older')")
    expect(page.locator(".deliveries tbody tr")).to_have_count(2)
    page.click("button:text-is('Newer')")
    expect(page.locator(".deliveries tbody tr")).to_have_count(25)
    page.fill("form[aria-label='Filter deliveries'] [name=event_type]", "custom.other")
    page.click("form[aria-label='Filter deliveries'] button[type=submit]")
    expect(page.locator(".deliveries tbody tr")).to_have_count(9)
    tab.shot("detail-endpoint")
    # Disable asks first; a disabled endpoint's primary action is Enable
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:text-is('Disable')")
    expect(page.locator(".detail-head .status")).to_have_text("disabled")
    page.click("button:text-is('Enable')")
    expect(page.locator(".detail-head .status")).to_have_text("enabled")
    assert call(runtime, "GET", f"webhooks/{endpoint['id']}")["enabled"] is True
    page.locator(".deliveries tbody a").first.click()
    wait_for_page(tab, "Delivery")
    expect(page.locator(".attempt-timeline li").first).to_contain_text("HTTP 200")
    expect(page.locator("section[aria-label=Payload] .payload")).to_contain_text("custom.other")
    tab.shot("detail-delivery")
    # the endpoint's settings open in its form, filled in
    page.go_back()
    wait_for_page(tab, "Webhook endpoint")
    # its settings open in the endpoint form, filled in
    page.click("a:text-is('Edit settings')")
    tab.page.wait_for_selector("#view[data-view=webhooks] [data-form=webhook]")
    assert page.input_value("#webhook-url") == receiver.url
    assert page.input_value("#webhook-description") == "Billing receiver"


def test_detail_pages_fit_a_phone_in_dark_and_show_a_viewer_no_actions(
    browser: Any, runtime: Runtime, failed_run: dict[str, Any]
) -> None:
    viewer = new_key(runtime, "viewer")
    endpoint = call(
        runtime, "POST", "webhooks", {"url": "http://127.0.0.1:9/phone", "event_types": ["custom.phone"]}
    )
    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    tab = Page(context.new_page(), runtime)
    try:
        tab.sign_in(viewer)
        for hash_, kind in (
            (f"schedules/{failed_run['schedule']['id']}", "Schedule"),
            (f"errors/{failed_run['job_id']}", "Retry job"),
            (f"dead-letters/{failed_run['letter_id']}", "Dead letter"),
            (f"webhooks/{endpoint['id']}", "Webhook endpoint"),
        ):
            tab.page.goto(f"{runtime.api}/dashboard#{hash_}")
            wait_for_page(tab, kind)
            # nothing wider than the screen, no write button for a viewer
            assert tab.page.evaluate(WIDER_THAN_THE_SCREEN) == []
            expect(tab.page.locator("#view-body [data-write], #view-body .button-link")).to_have_count(0)
            assert tab.page.evaluate("document.documentElement.dataset.theme") == "dark"
        tab.shot("detail-dead-letter-phone-dark")
        assert tab.errors == []
    finally:
        context.close()


def test_the_overview_leads_with_what_needs_attention_and_links_to_it(
    tab: Page, runtime: Runtime, failed_run: dict[str, Any]
) -> None:
    call(runtime, "POST", "errors/circuit-breaker/ledger-e2e", {"action": "force_open"})
    page = tab.page
    tab.sign_in(ADMIN_KEY)
    panel = page.locator("section.attention")
    expect(panel.locator("h3")).to_have_text("Needs attention")
    # the failed schedule, by name, links to its page
    schedule_line = panel.locator("li[data-attention=schedule]", has_text="Nightly invoices")
    expect(schedule_line).to_contain_text("of 1 runs failed")
    # health is one line until opened
    expect(page.locator("details.health > summary")).to_have_text(
        re.compile(r"Health: all \d+ dependencies ok")
    )
    expect(page.locator("details.health")).not_to_have_attribute("open", "")
    tab.shot("overview-attention")
    # a breaker's line opens its service's retry jobs, filtered
    panel.locator("li[data-attention=breaker]", has_text="ledger-e2e").locator("a").click()
    tab.page.wait_for_selector("#view[data-view=errors] #view-body[aria-busy=false]")
    assert page.url.endswith("#errors?service=ledger-e2e")
    expect(page.locator("form[aria-label='Filter retry jobs'] [name=service]")).to_have_value("ledger-e2e")
    page.go_back()
    tab.page.wait_for_selector("#view[data-view=overview] #view-body[aria-busy=false]")
    page.locator("section.attention li[data-attention=schedule]", has_text="Nightly invoices").locator(
        "a"
    ).click()
    wait_for_page(tab, "Schedule")
    expect(page.locator("#view-title")).to_have_text("Nightly invoices")
    call(runtime, "POST", "errors/circuit-breaker/ledger-e2e", {"action": "reset"})


VIEWS = ("overview", "errors", "dead-letters", "schedules", "webhooks", "analytics")
#: tables whose content is wider than their box (a clipped column, a hidden action)
CLIPPED_TABLES = """[...document.querySelectorAll('.scroll')]
  .filter((box) => box.scrollWidth > box.clientWidth + 1)
  .map((box) => box.closest('[data-table]')?.dataset.table)"""
#: rows whose first action button is not on the screen (a phone's stacked row must show it)
HIDDEN_ACTIONS = """[...document.querySelectorAll('tr[data-id] td.actions button:first-child')]
  .filter((b) => { const r = b.getBoundingClientRect(); return r.right > innerWidth || r.width === 0; })
  .map((b) => b.closest('tr').dataset.id)"""


@pytest.mark.parametrize("width", [1280, 1920])
def test_no_table_is_clipped_on_a_desktop(
    browser: Any, runtime: Runtime, failed_run: dict[str, Any], width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = Page(context.new_page(), runtime)
    try:
        tab.sign_in(ADMIN_KEY)
        for view in VIEWS:
            tab.open(view)
            assert tab.page.evaluate(CLIPPED_TABLES) == [], (view, width)
    finally:
        context.close()


#: words broken across two lines inside a table cell or a button ("schedule-d", "Co-py"); a URL
#: may break anywhere (code.url), and so may a command to copy (pre)
BROKEN_WORDS = """(() => {
  const broken = [];
  for (const el of document.querySelectorAll('main td, main th, main button')) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('code.url, pre')) continue;
      for (const m of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(`${el.dataset.label || el.tagName}: ${m[0]}`);
      }
    }
  }
  return broken.slice(0, 10);
})()"""


def test_at_1440_px_the_tables_use_the_width_and_no_word_breaks(
    browser: Any, runtime: Runtime, failed_run: dict[str, Any]
) -> None:
    # Given schedules in long-named zones beside the failed run's
    call(
        runtime,
        "POST",
        "schedules",
        {
            "name": "Sydney settlement",
            "expression": "cron(30 17 * * ? *)",
            "timezone": "Australia/Sydney",
            "target": {"type": "http", "url": "http://127.0.0.1:9/x"},
        },
    )
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = Page(context.new_page(), runtime)
    try:
        tab.sign_in(ADMIN_KEY)
        for view in VIEWS:
            tab.open(view)
            # Then the page uses the screen, and every word of every cell and button is whole
            assert tab.page.evaluate("document.querySelector('main').clientWidth") >= 1400, view
            assert tab.page.evaluate(BROKEN_WORDS) == [], view
        tab.page.goto(f"{runtime.api}/dashboard#schedules/{failed_run['schedule']['id']}")
        wait_for_page(tab, "Schedule")
        assert tab.page.evaluate(BROKEN_WORDS) == []
        # the overview counts failed webhook attempts beside deliveries ("N of M attempts")
        tab.open("overview")
        expect(tab.page.locator("[data-card=webhook-attempts] dd")).to_contain_text(" of ")
    finally:
        context.close()


def test_on_a_phone_list_rows_stack_with_their_state_and_primary_action(
    browser: Any, runtime: Runtime, failed_run: dict[str, Any]
) -> None:
    context = browser.new_context(viewport=PHONE)
    tab = Page(context.new_page(), runtime)
    try:
        tab.sign_in(ADMIN_KEY)
        for view in VIEWS:
            tab.open(view)
            assert tab.page.evaluate(WIDER_THAN_THE_SCREEN) == [], view
            assert tab.page.evaluate(HIDDEN_ACTIONS) == [], view
            tab.shot(f"{view}-phone")
        # a stacked row names each value (the state among them)
        tab.open("schedules")
        row = tab.page.locator(f"[data-table=schedules] tr[data-id='{failed_run['schedule']['id']}']")
        assert row.locator("td[data-label=State]").is_visible()
        assert tab.errors == []
    finally:
        context.close()


def test_charts_use_round_ticks_and_start_where_their_data_does(
    tab: Page, runtime: Runtime, failed_run: dict[str, Any]
) -> None:
    tab.sign_in(ADMIN_KEY)
    tab.open("analytics")
    for chart in ("error-rate", "retry-success", "schedule-runs", "webhook-latency"):
        ticks = [
            float(t)
            for t in tab.page.locator(f"[data-chart={chart}] text[data-tick]").evaluate_all(
                "(nodes) => nodes.map((n) => n.dataset.tick)"
            )
        ]
        steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
        assert ticks[0] == 0 and len(steps) == 1 and 2 <= len(ticks) <= 6, (chart, ticks)
        step = steps.pop()
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 2.5, 5), (chart, ticks)
        if chart == "schedule-runs":  # counts: whole numbers only
            assert all(t == int(t) for t in ticks), ticks
    # a day's range whose data began minutes ago is drawn from there, and says so
    expect(tab.page.locator("[data-chart=schedule-runs] [data-fitted]")).to_contain_text(
        "the chart starts there"
    )
    tab.shot("analytics-ticks")


def test_a_dead_letter_group_has_its_own_url(tab: Page, runtime: Runtime) -> None:
    mine, other = make_dead_letter(runtime, "fx-rates"), make_dead_letter(runtime, "tax-e2e")
    assert mine["fingerprint"] != other["fingerprint"]
    page = tab.page
    tab.sign_in(ADMIN_KEY)
    tab.open("dead-letters")
    page.click(f"[data-table=dead-letter-groups] a[data-group='{mine['fingerprint']}']")
    assert page.url.endswith(f"#dead-letters?fingerprint={mine['fingerprint']}&status=open")
    rows = page.locator("[data-table=dead-letters] tbody tr[data-id]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", mine["id"])
    # the same URL, opened afresh, shows the same group
    page.goto(f"{runtime.api}/dashboard#dead-letters?fingerprint={mine['fingerprint']}")
    page.reload()
    page.wait_for_selector("#view[data-view=dead-letters] #view-body[aria-busy=false]")
    expect(rows).to_have_count(1)


def test_a_failed_deliverys_dead_letter_links_back_to_it(
    tab: Page, runtime: Runtime, receiver: Flaky
) -> None:
    receiver.status = 500
    endpoint = call(
        runtime,
        "POST",
        "webhooks",
        {"url": receiver.url, "max_attempts": 1, "event_types": ["custom.fail_once"]},
    )
    call(runtime, "POST", "events", {"type": "custom.fail_once", "data": {}})
    delivery = until(
        lambda: next(
            (
                d
                for d in call(runtime, "GET", f"webhooks/{endpoint['id']}/deliveries")["items"]
                if d["dead_letter_id"]
            ),
            None,
        ),
        timeout=60,
    )
    page = tab.page
    tab.sign_in(ADMIN_KEY)
    page.goto(f"{runtime.api}/dashboard#dead-letters/{delivery['dead_letter_id']}")
    wait_for_page(tab, "Dead letter")
    page.click(f"a[data-link='{delivery['id']}']")
    wait_for_page(tab, "Delivery")
    expect(page.locator(".attempt-timeline li").first).to_contain_text("HTTP 500")
    expect(page.locator(f"a[data-link='{delivery['dead_letter_id']}']")).to_be_visible()
    receiver.status = 200


def test_each_row_shows_one_primary_action_and_the_rest_behind_more(
    tab: Page, runtime: Runtime, failed_run: dict[str, Any]
) -> None:
    page = tab.page
    tab.sign_in(ADMIN_KEY)
    tab.open("schedules")
    row = page.locator(f"[data-table=schedules] tr[data-id='{failed_run['schedule']['id']}']")
    visible = row.locator("td.actions button:visible")
    expect(visible).to_have_count(1)
    expect(visible.first).to_have_text("Run now")
    row.locator("details.menu > summary").click()
    expect(row.locator("details.menu button:visible")).to_have_text(["Pause", "Edit", "Delete"])
    page.keyboard.press("Escape")
    expect(row.locator("details.menu")).not_to_have_attribute("open", "")
    expect(page.locator("details.menu[open]")).to_have_count(0)
