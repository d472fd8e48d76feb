"""The dashboard in headless Chromium (Debian's, driven by Playwright for Python) against the local
runtime: the page, the API and the WebSocket gateway are the real ones, in a subprocess.

Screenshots of every view go to artifacts/dashboard/ (git-ignored), for people to look at.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from devserver.runtime import free_port
from tests.e2e.conftest import AUTH, Runtime
from tests.e2e.dashboard_page import Page, call, make_dead_letter, more, new_key, until

pytestmark = pytest.mark.e2e
VIEWS = ("overview", "errors", "dead-letters", "schedules", "webhooks", "analytics")


def make_schedule(runtime: Runtime, name: str) -> dict[str, Any]:
    return call(
        runtime,
        "POST",
        "schedules",
        {
            "name": name,
            "expression": "rate(5 minutes)",
            "target": {"type": "event", "event_type": "custom.dashboard", "data": {"from": name}},
        },
    )


def bars(tab: Page, schedule_id: str, status: str) -> Any:
    return tab.page.locator(f"rect.bar[data-schedule='{schedule_id}'][data-status='{status}']")


def test_sign_in_shows_every_view_and_a_bad_key_is_refused(tab: Page, runtime: Runtime) -> None:
    # Given some activity
    make_schedule(runtime, "overview report")
    operator = new_key(runtime, "operator")
    # When a wrong key is used, Then the page says so and stays on the sign-in form
    tab.page.goto(f"{runtime.api}/dashboard")
    tab.page.fill("#key", "cnd_not-a-real-key")
    tab.page.click("#signin button[type=submit]")
    expect(tab.page.locator("#signin-error")).to_contain_text("not accepted")
    assert tab.page.locator("#nav").is_hidden()
    # When the operator signs in, Then every view renders, live
    tab.sign_in(operator)
    assert "e2e operator (operator)" in tab.page.inner_text("#who")
    assert tab.page.evaluate("sessionStorage.getItem('conductor.key')") == operator
    for view in VIEWS:
        tab.open(view)
        assert tab.page.get_attribute(f"#nav a[data-view={view}]", "aria-current") == "page"
        tab.shot(f"{view}-light")
    assert tab.page.locator("[data-chart]").count() == 4
    # Dark theme, kept across reloads
    tab.page.click("#theme")
    assert tab.page.get_attribute("html", "data-theme") == "dark"
    tab.open("schedules")
    tab.shot("schedules-dark")
    tab.page.reload()
    tab.page.wait_for_selector("#live[data-state=live]")
    assert tab.page.get_attribute("html", "data-theme") == "dark"
    # Phone width: nothing wider than the screen but the tables' own scroll boxes
    tab.page.set_viewport_size({"width": 390, "height": 844})
    tab.open("overview")
    overflow = tab.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    tab.shot("overview-phone")


def test_schedule_gantt_and_run_now_appear_live(tab: Page, runtime: Runtime) -> None:
    # Given a schedule, and an operator on the Schedules view
    schedule = make_schedule(runtime, "nightly export")
    tab.sign_in(new_key(runtime, "operator"))
    tab.open("schedules")
    row = tab.page.locator(f"[data-table=schedules] tr[data-id='{schedule['id']}']")
    assert "rate(5 minutes)" in row.inner_text()
    # Then its upcoming runs are dashed bars on the timeline, and it has no past run yet
    bars(tab, schedule["id"], "upcoming").first.wait_for()
    assert bars(tab, schedule["id"], "upcoming").count() >= 1
    assert bars(tab, schedule["id"], "succeeded").count() == 0
    tab.page.evaluate("window.notReloaded = true")
    # When "Run now" is clicked, Then a succeeded bar appears
    row.get_by_role("button", name="Run nightly export now").click()
    bars(tab, schedule["id"], "succeeded").first.wait_for()
    # When a run is started elsewhere (the API), Then its bar arrives over the WebSocket
    call(runtime, "POST", f"schedules/{schedule['id']}/execute")
    until(lambda: bars(tab, schedule["id"], "succeeded").count() == 2, timeout=20)
    assert tab.page.evaluate("window.notReloaded") is True  # no reload happened
    # Hover shows the run's details; zooming changes the visible range
    bars(tab, schedule["id"], "succeeded").last.hover()  # the later one lies on top
    expect(tab.page.locator("#tooltip")).to_contain_text("nightly export: succeeded")
    before = tab.page.inner_text("[data-range]")
    tab.page.get_by_role("button", name="Zoom in").click()
    assert tab.page.inner_text("[data-range]") != before
    tab.page.focus("svg.gantt")
    tab.page.keyboard.press("ArrowLeft")
    tab.shot("schedules-gantt")
    # Panning before the last day loads the runs of the range panned into
    for _ in range(6):
        tab.page.get_by_role("button", name="Zoom out").click()
    tab.page.get_by_role("button", name="Earlier").click()
    until(
        lambda: any("dashboard/schedules?from=" in u for u in tab.requests), sleep=tab.page.wait_for_timeout
    )


def test_schedule_form_previews_next_runs_and_explains_a_bad_expression(tab: Page, runtime: Runtime) -> None:
    tab.sign_in(new_key(runtime, "operator"))
    tab.open("schedules")
    tab.page.get_by_role("button", name="New schedule").click()
    tab.page.fill("#schedule-name", "weekday digest")
    tab.page.fill("#schedule-expression", "cron(0 9 * * 1-5)")
    tab.page.fill("#schedule-timezone", "Europe/Berlin")
    # the preview lists the next five 09:00 Berlin times, and each in the viewer's zone (08:00 UTC)
    expect(tab.page.locator("#schedule-preview tbody tr")).to_have_count(5)
    expect(tab.page.locator("#schedule-words")).to_have_text(
        "At 09:00, Monday through Friday (Europe/Berlin)"
    )
    expect(tab.page.locator("#schedule-preview tbody tr").first).to_contain_text("09:00:00")
    expect(tab.page.locator("#schedule-preview tbody tr").first).to_contain_text("08:00:00\u00a0UTC")
    # a live update while typing (someone else creates a schedule) keeps what was typed
    other = make_schedule(runtime, "made meanwhile")
    tab.page.locator(f"[data-table=schedules] tr[data-id='{other['id']}']").wait_for()
    assert tab.page.input_value("#schedule-name") == "weekday digest"
    assert tab.page.input_value("#schedule-timezone") == "Europe/Berlin"
    assert tab.page.evaluate("document.activeElement.id") == "schedule-timezone"  # still typing
    tab.page.fill("#schedule-expression", "cron(61 * * * *)")
    tab.page.wait_for_selector("[data-form=schedule] .error-text:has-text('invalid')")
    assert tab.page.locator("#schedule-preview tbody tr").count() == 0
    tab.page.fill("#schedule-expression", "rate(1 hour)")
    tab.page.select_option("select[name=target_type]", "event")
    tab.page.fill("#schedule-event", "custom.digest")
    tab.page.get_by_role("button", name="Create", exact=True).click()
    form_closed(tab)
    tab.page.wait_for_selector("[data-table=schedules] tr:has-text('weekday digest')")
    created = [
        s for s in call(runtime, "GET", "schedules?limit=200")["items"] if s["name"] == "weekday digest"
    ]
    assert created and created[0]["timezone"] == "Europe/Berlin"
    assert created[0]["target"]["type"] == "event"
    # Edit changes what the form shows and keeps the rest (a full PUT with the version read)
    row = tab.page.locator(f"[data-table=schedules] tr[data-id='{created[0]['id']}']")
    more(row, "Edit").click()
    assert tab.page.input_value("#schedule-expression") == "rate(1 hour)"
    tab.page.fill("#schedule-expression", "rate(2 hours)")
    tab.page.get_by_role("button", name="Save").click()
    form_closed(tab)
    expect(row).to_contain_text("rate(2 hours)")
    edited = call(runtime, "GET", f"schedules/{created[0]['id']}")
    assert edited["version"] == created[0]["version"] + 1
    assert edited["timezone"] == "Europe/Berlin" and edited["retry_policy"] == created[0]["retry_policy"]
    # every field the API takes is in the form: an HTTP target with headers and a JSON body,
    # retries, jitter, catch-up and auto-pause; a body that is not JSON is explained, not sent
    more(row, "Edit").click()
    tab.page.select_option("select[name=target_type]", "http")
    tab.page.select_option("select[name=method]", "PUT")
    tab.page.fill("#schedule-url", "http://127.0.0.1:9/digest")
    tab.page.fill("#schedule-headers", "X-Team: billing")
    tab.page.fill("#schedule-body", "{not json")
    tab.page.get_by_role("button", name="Save").click()
    expect(tab.page.locator("[data-form=schedule] .error-text")).to_contain_text("Body is not JSON")
    tab.page.fill("#schedule-body", '{"digest": true}')
    tab.page.fill("#schedule-max-attempts", "3")
    tab.page.select_option("select[name=strategy]", "linear")
    tab.page.fill("#schedule-jitter", "30")
    tab.page.select_option("select[name=catchup]", "skip")
    tab.page.fill("#schedule-pause-after", "4")
    tab.page.fill("#schedule-tags", "billing, digest")
    # the anchors' features: a flexible window, buffer_all, limited actions, history limits
    tab.page.fill("#schedule-window", "20")
    tab.page.select_option("select[name=overlap_policy]", "buffer_all")
    tab.page.fill("#schedule-remaining", "4")
    tab.page.select_option("select[name=action_after_completion]", "delete")
    tab.page.fill("#schedule-keep-succeeded", "3")
    tab.page.fill("#schedule-keep-failed", "2")
    tab.page.get_by_role("button", name="Save").click()
    form_closed(tab)
    expect(row).to_contain_text("PUT")
    full = call(runtime, "GET", f"schedules/{created[0]['id']}")
    assert full["target"]["method"] == "PUT" and full["target"]["body"] == {"digest": True}
    assert full["target"]["headers"] == {"X-Team": "********"}  # write-only, masked
    assert (full["retry_policy"]["max_attempts"], full["retry_policy"]["strategy"]) == (3, "linear")
    assert (full["jitter_seconds"], full["catchup"], full["pause_after_failures"]) == (30, "skip", 4)
    assert full["tags"] == ["billing", "digest"]
    assert full["flexible_time_window"] == {"mode": "FLEXIBLE", "maximum_window_minutes": 20}
    assert (
        full["overlap_policy"],
        full["remaining_actions"],
        full["action_after_completion"],
        full["history_limits"],
    ) == ("buffer_all", 4, "delete", {"succeeded": 3, "failed": 2})


def form_closed(tab: Page) -> None:
    """Waits for the schedule form to close: saved. An error keeps it open, and the failure says it."""
    form = tab.page.locator("[data-form=schedule]")
    try:
        expect(form).to_have_count(0)
    except AssertionError as err:
        problem = form.locator(".error-text").all_inner_texts() if form.count() else []
        raise AssertionError(f"the schedule form stayed open: {problem}") from err


def test_dead_letters_grouped_and_resolved(tab: Page, runtime: Runtime) -> None:
    # Given two dead letters of the same failure
    first = make_dead_letter(runtime, "ledger")
    second = make_dead_letter(runtime, "ledger")
    assert first["fingerprint"] == second["fingerprint"]
    tab.sign_in(new_key(runtime, "operator"))
    tab.open("dead-letters")
    group = tab.page.locator(f"[data-table=dead-letter-groups] tr[data-id='{first['fingerprint']}']")
    assert "ledger" in group.inner_text()
    assert group.locator("td").nth(1).inner_text() == "2"
    tab.shot("dead-letters")
    # When one is resolved from its row
    row = tab.page.locator(f"[data-table=dead-letters] tr[data-id='{first['id']}']")
    tab.page.once("dialog", lambda dialog: dialog.accept())  # a secondary, confirmed action
    row.get_by_role("button", name="Resolve").click()
    # Then it leaves the open list, and the API agrees
    row.wait_for(state="detached")
    assert call(runtime, "GET", f"dlq/{first['id']}")["status"] == "resolved"
    expect(tab.page.locator("#notice")).to_contain_text("resolved")
    # And a bulk action on the selection resolves the rest of the group; the selection outlives
    # a live update of the list (a third dead letter arriving)
    tab.page.check(f"input[data-row='{second['id']}']")
    third = make_dead_letter(runtime, "ledger")
    tab.page.locator(f"[data-table=dead-letters] tr[data-id='{third['id']}']").wait_for()
    assert tab.page.is_checked(f"input[data-row='{second['id']}']")
    assert not tab.page.is_checked(f"input[data-row='{third['id']}']")
    tab.page.get_by_role("button", name="Resolve selected").click()
    tab.page.locator(f"[data-table=dead-letters] tr[data-id='{second['id']}']").wait_for(state="detached")
    assert call(runtime, "GET", f"dlq/{second['id']}")["status"] == "resolved"
    assert call(runtime, "GET", f"dlq/{third['id']}")["status"] == "open"
    # A whole group is resolved only once the operator confirms it
    group = tab.page.locator(f"[data-table=dead-letter-groups] tr[data-id='{third['fingerprint']}']")
    tab.page.once("dialog", lambda dialog: dialog.dismiss())
    group.get_by_role("button", name="Resolve group").click()
    tab.page.wait_for_timeout(300)
    assert call(runtime, "GET", f"dlq/{third['id']}")["status"] == "open"
    tab.page.once("dialog", lambda dialog: dialog.accept())
    group.get_by_role("button", name="Resolve group").click()
    until(
        lambda: call(runtime, "GET", f"dlq/{third['id']}")["status"] == "resolved",
        10,
        tab.page.wait_for_timeout,
    )


def test_a_viewer_key_sees_no_write_buttons(tab: Page, runtime: Runtime) -> None:
    schedule = make_schedule(runtime, "viewer can see me")
    make_dead_letter(runtime, "viewer")
    tab.sign_in(new_key(runtime, "viewer"))
    assert "(viewer)" in tab.page.inner_text("#who")
    for view in VIEWS:
        tab.open(view)
        assert tab.page.locator("[data-write]").count() == 0, view
        for label in (
            "Run now",
            "Resolve",
            "Replay",
            "Pause",
            "Delete",
            "New schedule",
            "Rotate secret",
            "Redeliver",
        ):
            assert tab.page.get_by_role("button", name=label, exact=True).count() == 0, (view, label)
        tab.shot(f"{view}-viewer")
    # they still see the data
    tab.open("schedules")
    assert tab.page.locator(f"tr[data-id='{schedule['id']}']").count() == 1


def test_tables_export_to_csv_and_json(tab: Page, runtime: Runtime) -> None:
    make_schedule(runtime, 'exported, "quoted"')
    tab.sign_in(new_key(runtime, "viewer"))
    tab.open("schedules")
    block = tab.page.locator("[data-table=schedules]")
    with tab.page.expect_download() as csv_download:
        block.locator("[data-export=csv]").click()
    text = Path(csv_download.value.path()).read_bytes().decode()
    assert text.startswith("Name,Expression,Time zone,State,Next run,Target\r\n")
    assert '"exported, ""quoted"""' in text
    with tab.page.expect_download() as json_download:
        block.locator("[data-export=json]").click()
    rows = json.loads(Path(json_download.value.path()).read_text())
    assert any(r["name"] == 'exported, "quoted"' and r["next_runs"] for r in rows)


def test_keyboard_navigation_and_every_control_labelled(tab: Page, runtime: Runtime) -> None:
    tab.sign_in(new_key(runtime, "operator"))
    # After sign-in the view's heading has focus; from the top, the skip link comes first
    assert tab.page.evaluate("document.activeElement.id") == "view-title"
    tab.page.locator("#nav a").first.focus()
    tab.page.keyboard.press("Shift+Tab")
    assert tab.page.evaluate("document.activeElement.className") == "skip"
    assert tab.page.locator(".skip").bounding_box()["x"] >= 0  # shown while focused
    tab.page.focus("#nav a[data-view=webhooks]")
    tab.page.keyboard.press("Enter")
    tab.page.wait_for_selector("#view[data-view=webhooks]")
    tab.page.wait_for_function("() => document.activeElement.id === 'view-title'")  # heading, read out
    for view in VIEWS:
        tab.open(view)
        unlabelled = tab.page.evaluate("""[...document.querySelectorAll('input, select, textarea')]
            .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label'))
            .map((c) => c.outerHTML)""")
        assert unlabelled == [], (view, unlabelled)


def test_the_live_indicator_reconnects_and_resumes_what_it_missed(tab: Page, runtime: Runtime) -> None:
    # The test stands between the page and the gateway, so it can drop the socket, and hold the
    # new one's messages until an event has been published in the gap.
    routes: list[Any] = []
    servers: list[Any] = []
    held: list[str] = []
    replies: list[dict[str, Any]] = []

    def relay(route: Any) -> None:
        server = route.connect_to_server()
        routes.append(route)
        servers.append(server)
        if len(routes) == 2:
            route.on_message(lambda message: held.append(message))

            def to_page(message: str) -> None:
                replies.append(json.loads(message))
                route.send(message)

            server.on_message(to_page)

    tab.page.route_web_socket(f"{runtime.ws}/**", relay)
    tab.sign_in(new_key(runtime, "operator"))
    seen = call(runtime, "POST", "events", {"type": "custom.before_drop"})
    tab.page.wait_for_selector(f"[data-feed] li[data-event='{seen['id']}']")
    # When the socket drops
    routes[0].close()
    servers[0].close()
    # Then the indicator says so, and the page connects again
    tab.page.wait_for_selector("#live[data-state=reconnecting]")
    until(lambda: len(held) >= 2, sleep=tab.page.wait_for_timeout)
    assert [json.loads(m)["action"] for m in held] == ["subscribe", "resume"]
    assert json.loads(held[1])["after"] == seen["id"]
    # An event published while the new socket is not yet subscribed...
    missed = call(runtime, "POST", "events", {"type": "custom.while_away", "data": {"n": 1}})
    for message in held:
        servers[1].send(message)
    # ...arrives through resume, once, and the indicator is live again
    tab.page.wait_for_selector(f"[data-feed] li[data-event='{missed['id']}']")
    tab.page.wait_for_selector("#live[data-state=live]")
    resumed = until(lambda: [r for r in replies if r.get("of") == "resume"], sleep=tab.page.wait_for_timeout)
    assert resumed[0]["replayed"] >= 1
    tab.page.wait_for_timeout(1000)  # a late live copy of the event would show up by now
    assert tab.page.locator(f"[data-feed] li[data-event='{missed['id']}']").count() == 1


def test_errors_view_filters_retries_and_resolves(tab: Page, runtime: Runtime) -> None:
    # Given a dead-lettered job and one waiting an hour for its next attempt, of service "payments"
    dead = make_dead_letter(runtime, "payments")
    waiting = call(
        runtime,
        "POST",
        "errors/retry",
        {
            "service": "payments",
            "error": {"type": "Timeout", "message": "slow"},
            "target": {"type": "http", "url": f"http://127.0.0.1:{free_port()}/pay"},
            "retry_policy": {"max_attempts": 3, "initial_delay_seconds": 3600, "jitter": "none"},
        },
    )
    assert waiting["status"] == "scheduled"
    make_dead_letter(runtime, "shipping")
    tab.sign_in(new_key(runtime, "operator"))
    tab.open("errors")
    # When filtered by service, Then only that service's jobs are listed
    tab.page.fill("input[name=service]", "payments")
    tab.page.get_by_role("button", name="Apply").click()
    jobs = tab.page.locator("[data-table=retry-jobs] tbody tr")
    expect(jobs).to_have_count(2)
    expect(tab.page.locator("[data-table=retry-jobs] tbody")).not_to_contain_text("shipping")
    # Each job's attempts open in place
    row = tab.page.locator(f"[data-table=retry-jobs] tr[data-id='{dead['retry_job_id']}']")
    row.locator("summary").click()
    expect(row.locator("ol.attempts li")).to_contain_text("failed")
    tab.shot("errors")
    # "Retry" replays a dead-lettered job's dead letter as a new job
    row.get_by_role("button", name="Retry").click()
    expect(tab.page.locator("#notice")).to_contain_text("retried as a new job")
    assert call(runtime, "GET", f"dlq/{dead['id']}")["status"] == "replayed"
    # A bulk resolve of the waiting job cancels its next attempt
    tab.page.check(f"input[data-row='{waiting['id']}']")
    tab.page.get_by_role("button", name="Resolve selected").click()
    expect(tab.page.locator("#notice")).to_contain_text("1 resolved")
    assert call(runtime, "GET", f"errors/retry/{waiting['id']}")["status"] == "resolved"
    # A service named as Conductor names a schedule's (with ':' and capitals) filters too
    make_dead_letter(runtime, "schedule:sch_01ABCDEFGHJKMNPQRSTVWXYZ00")
    tab.page.fill("input[name=service]", "schedule:sch_01ABCDEFGHJKMNPQRSTVWXYZ00")
    tab.page.get_by_role("button", name="Apply").click()
    expect(jobs).to_have_count(1)


def test_an_empty_list_teaches_the_next_step_without_the_key(tab: Page, runtime: Runtime) -> None:
    # Given an operator on the errors view, filtered to a service that has no jobs
    key = new_key(runtime, "operator")
    tab.sign_in(key)
    tab.open("errors")
    tab.page.fill("input[name=service]", "never-seen")
    tab.page.get_by_role("button", name="Apply").click()
    empty = tab.page.locator("[data-table=retry-jobs] .teach")
    # Then the empty list says what to do: a command to copy against this API, and the reference
    command = empty.locator("[data-command]")
    expect(command).to_contain_text(f"curl -X POST {runtime.api}/v2/errors/retry")
    expect(command).to_contain_text("Bearer $CONDUCTOR_KEY")
    expect(empty.get_by_role("link", name="API reference")).to_have_attribute("href", "docs")
    # and the key itself is never written into the page
    assert key not in tab.page.content()
    tab.shot("empty-state")


def test_a_filter_typed_but_not_applied_survives_a_live_reload(tab: Page, runtime: Runtime) -> None:
    # Given the errors view with a service typed into its filter, not applied yet
    tab.sign_in(new_key(runtime, "operator"))
    tab.open("errors")
    tab.page.fill("input[name=service]", "typed-not-applied")
    # When a new job's event reloads the view live
    job = make_dead_letter(runtime, "live-reload")["retry_job_id"]
    expect(tab.page.locator(f"[data-table=retry-jobs] tr[data-id='{job}']")).to_have_count(1)
    # Then what was typed is still there (a live reload once put the applied filter back)
    expect(tab.page.locator("input[name=service]")).to_have_value("typed-not-applied")


def test_times_say_their_zone_and_how_far_ahead_they_are(browser: Any, runtime: Runtime) -> None:
    # Given a schedule due within 5 minutes, and a viewer in Berlin
    schedule = make_schedule(runtime, "zone-label")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
    try:
        tab = Page(context.new_page(), runtime)
        tab.sign_in(new_key(runtime, "viewer"))
        # When the overview lists the next runs
        row = tab.page.locator(f"[data-table=next-runs] tr[data-id='{schedule['id']}']")
        # Then the time is in the viewer's zone, labelled with it, and says how far ahead it is
        expect(row).to_contain_text("GMT+1")
        expect(row).to_contain_text(re.compile(r"\(in \d+\u00a0min\)|\(now\)"))
        due = datetime.fromisoformat(schedule["next_runs"][0].replace("Z", "+00:00"))
        local = due.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M:%S")
        expect(row).to_contain_text(local)
        assert tab.errors == []
    finally:
        context.close()


def test_analytics_names_each_schedule_and_links_it_to_its_page(tab: Page, runtime: Runtime) -> None:
    # Given a schedule that ran once
    made = make_schedule(runtime, "analytics-named")
    call(runtime, "POST", f"schedules/{made['id']}/execute")
    until(lambda: any(r["id"] == made["id"] for r in call(runtime, "GET", "metrics/schedules")["items"]))
    # When the analytics view lists runs by schedule
    tab.sign_in(new_key(runtime, "viewer"))
    tab.open("analytics")
    row = tab.page.locator(f"[data-table=schedule-stats] tr[data-id='{made['id']}']")
    # Then the row says the schedule's name, a link to its page; the id is not repeated in the
    # list (the page shows it once, with Copy)
    expect(row.locator(f".named a[data-link='{made['id']}']")).to_have_text("analytics-named")
    expect(row).not_to_contain_text(made["id"])


def test_a_schedules_next_run_reads_in_its_own_zone(tab: Page, runtime: Runtime) -> None:
    # Given a 09:00 Europe/Berlin schedule, and a viewer whose browser is in UTC
    made = call(
        runtime,
        "POST",
        "schedules",
        {
            "name": "berlin-nine",
            "expression": "cron(0 9 * * *)",
            "timezone": "Europe/Berlin",
            "target": {"type": "event", "event_type": "custom.dashboard", "data": {}},
        },
    )
    tab.sign_in(new_key(runtime, "viewer"))
    tab.open("schedules")
    # When the schedules table lists it, Then its next run reads 09:00 in Berlin's zone (it was
    # shown as 08:00:00, the viewer's clock, with no zone)
    row = tab.page.locator(f"[data-table=schedules] tr[data-id='{made['id']}']")
    due = datetime.fromisoformat(made["next_runs"][0].replace("Z", "+00:00"))
    zone = "GMT+2" if due.astimezone(ZoneInfo("Europe/Berlin")).dst() else "GMT+1"
    expect(row).to_contain_text(f"09:00:00\u00a0{zone}")


def test_webhooks_view_creates_tests_redelivers_and_rotates(tab: Page, runtime: Runtime) -> None:
    from tests.functional.receivers import receiver

    with receiver([(200, {})]) as target:
        tab.sign_in(new_key(runtime, "operator"))
        tab.open("webhooks")
        # When an endpoint is created, Then its secret is shown once
        tab.page.get_by_role("button", name="New endpoint").click()
        tab.page.fill("#webhook-url", target.url)
        tab.page.fill("#webhook-events", "webhook.test")
        tab.page.get_by_role("button", name="Create", exact=True).click()
        secret = tab.page.locator("[data-secret]")
        expect(secret).to_contain_text("whsec_")
        first_secret = secret.inner_text()
        tab.page.get_by_role("button", name="I have stored it").click()
        expect(secret).to_have_count(0)
        hooks = [h for h in call(runtime, "GET", "webhooks?limit=200")["items"] if h["url"] == target.url]
        assert len(hooks) == 1 and "secret" not in hooks[0]
        hook = tab.page.locator(f"[data-table=webhooks] tr[data-id='{hooks[0]['id']}']")
        # Send test: the delivery shows up in the log, delivered, with its attempt
        hook.get_by_role("button", name="Send test").click()
        log = tab.page.locator("[data-table=deliveries] tbody tr")
        expect(log.first).to_contain_text("delivered", timeout=30_000)
        log.first.locator("summary").click()
        expect(log.first.locator("ol.attempts")).to_contain_text("HTTP 200")
        tab.shot("webhooks")
        # Redeliver sends it again
        log.first.get_by_role("button", name="Redeliver").click()
        expect(tab.page.locator("#notice")).to_contain_text("queued again")
        until(lambda: len(target.requests) == 2)
        # Rotate secret asks first, then shows the new one
        tab.page.once("dialog", lambda dialog: dialog.accept())
        more(hook, "Rotate secret").click()
        expect(secret).to_contain_text("whsec_")
        assert secret.inner_text() != first_secret
        tab.page.get_by_role("button", name="I have stored it").click()
        # Edit: event types picked from the catalog, headers, attempts and a retry schedule
        more(hook, "Edit").click()
        picker = tab.page.locator("[data-form=webhook] .type-picker")
        expect(picker.locator("input[value='webhook.test']")).to_be_checked()
        picker.locator("input[value='schedule.failed']").check()
        assert tab.page.input_value("#webhook-events") == "webhook.test schedule.failed"
        tab.page.fill("#webhook-headers", "X-Team: billing")
        tab.page.fill("#webhook-max-attempts", "5")
        tab.page.fill("#webhook-retry-schedule", "5, 60")
        tab.page.get_by_role("button", name="Save").click()
        expect(tab.page.locator("[data-form=webhook] .error-text")).to_have_text("")
        expect(tab.page.locator("#notice")).to_contain_text("saved")
        saved = call(runtime, "GET", f"webhooks/{hooks[0]['id']}")
        assert sorted(saved["event_types"]) == ["schedule.failed", "webhook.test"]
        assert (saved["max_attempts"], saved["retry_schedule"]) == (3, [5, 60])  # set by it
        assert saved["headers"] == {"X-Team": "********"}
        # Delete asks first
        tab.page.once("dialog", lambda dialog: dialog.accept())
        more(hook, "Delete").click()
        expect(hook).to_have_count(0)
        assert (
            requests.get(f"{runtime.api}/v2/webhooks/{hooks[0]['id']}", headers=AUTH, timeout=10).status_code
            == 404
        )


def test_pause_resume_delete_and_breaker_controls(tab: Page, runtime: Runtime) -> None:
    schedule = make_schedule(runtime, "controls")
    call(runtime, "POST", "errors/circuit-breaker/inventory", {"action": "force_close"})
    tab.sign_in(new_key(runtime, "operator"))
    # A breaker is forced open from the overview: it asks first, and dismissing changes nothing
    breaker = tab.page.locator("[data-table=breakers] tr[data-id='inventory']")
    asked: list[str] = []
    tab.page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    more(breaker, "Force open").click()
    until(lambda: asked, 10, tab.page.wait_for_timeout)
    assert "inventory" in asked[0]
    assert call(runtime, "GET", "errors/circuit-breaker/inventory")["state"] == "forced_closed"
    tab.page.once("dialog", lambda dialog: dialog.accept())
    more(breaker, "Force open").click()
    expect(breaker).to_contain_text("forced open")
    assert call(runtime, "GET", "errors/circuit-breaker/inventory")["state"] == "forced_open"
    # Pause, then resume a schedule; its upcoming bars leave and come back
    tab.open("schedules")
    row = tab.page.locator(f"[data-table=schedules] tr[data-id='{schedule['id']}']")
    more(row, "Pause").click()
    expect(row).to_contain_text("paused")
    expect(bars(tab, schedule["id"], "upcoming")).to_have_count(0)
    assert call(runtime, "GET", f"schedules/{schedule['id']}")["enabled"] is False
    more(row, "Resume").click()
    expect(row).to_contain_text("active")
    expect(bars(tab, schedule["id"], "upcoming").first).to_be_attached()
    # Delete asks first; dismissing keeps it, accepting deletes it
    tab.page.once("dialog", lambda dialog: dialog.dismiss())
    more(row, "Delete").click()
    expect(row).to_have_count(1)
    tab.page.once("dialog", lambda dialog: dialog.accept())
    more(row, "Delete").click()
    expect(row).to_have_count(0)
    gone = requests.get(f"{runtime.api}/v2/schedules/{schedule['id']}", headers=AUTH, timeout=10)
    assert gone.status_code == 404


def test_the_feed_keeps_history_and_live_events_and_hides_internal_ones(tab: Page, runtime: Runtime) -> None:
    # Given earlier events
    earlier = [call(runtime, "POST", "events", {"type": "custom.feed", "data": {"n": n}}) for n in range(3)]
    tab.sign_in(new_key(runtime, "viewer"))
    feed = tab.page.locator("[data-feed]")
    # Then the history is there
    for event in earlier:
        expect(feed.locator(f"li[data-event='{event['id']}']")).to_have_count(1)
    # When one arrives live, it joins the history at the top (nothing of the history is lost)
    live = call(runtime, "POST", "events", {"type": "custom.feed", "data": {"n": 9}})
    expect(feed.locator("li").first).to_have_attribute("data-event", live["id"])
    for event in earlier:
        expect(feed.locator(f"li[data-event='{event['id']}']")).to_have_count(1)

    # And Conductor's own minute totals (metrics.updated, published by the next tick: at most a
    # minute away) arrive live but stay hidden until asked for
    def fresh() -> Any:
        items = call(runtime, "GET", "events?type=metrics.updated&limit=1")["items"]
        return items if items and items[0]["id"] > live["id"] else None

    internal = until(fresh, 75, tab.page.wait_for_timeout)
    assert internal, "the minute tick publishes metrics.updated"
    tab.page.wait_for_timeout(1000)  # the WebSocket has brought it by now
    expect(feed.locator(f"li[data-event='{internal[0]['id']}']")).to_have_count(0)
    tab.page.check("#feed-internal")
    expect(feed.locator(f"li[data-event='{internal[0]['id']}']")).to_have_count(1)


def test_the_api_reference_renders_every_operation_and_tries_one(tab: Page, runtime: Runtime) -> None:
    document = requests.get(f"{runtime.api}/v2/openapi.json", timeout=10).json()
    page = tab.page
    page.goto(f"{runtime.api}/docs")
    page.wait_for_selector("#operations-events-list_event_types")
    rendered = page.locator("#swagger-ui .opblock").count()
    # every operation, and every outgoing webhook, has its block
    assert rendered == sum(len(ops) for ops in document["paths"].values()) + len(document["webhooks"])
    # authorize with the API key (bearer), then run GET /v2/events/types from the page
    page.click("button.authorize")
    page.locator(".auth-container input").first.fill(AUTH["Authorization"].split()[1])
    page.locator(".auth-btn-wrapper button.authorize").first.click()
    page.click("button.btn-done")
    block = page.locator("#operations-events-list_event_types")
    block.locator(".opblock-summary").click()
    block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    expect(block.locator(".live-responses-table tr.response .response-col_status").first).to_contain_text(
        "200"
    )
    tab.shot("api-reference")
    # everything came from this server: no CDN, no validator, no font service
    assert tab.requests and all(url.startswith(runtime.api) for url in tab.requests), [
        u for u in tab.requests if not u.startswith(runtime.api)
    ]
    assert not tab.errors
