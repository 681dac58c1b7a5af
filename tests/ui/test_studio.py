"""amlite studio in a real browser against a real server: sign-in, the jobs list, a job page
with live log, metric charts, outputs and cancel, a sweep page with its trials and charts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from studio_helpers import (
    XSS,
    attrs,
    job_hash,
    open_page,
    put_job,
    screenshot,
    sweep_body,
    upload_code,
    wait_job,
    wait_ready,
)

from support.server import API, WS, LiveServer, command_body, job_url

SWEEP_CMD = (
    "python train.py --lr {search_space.lr} --layers {search_space.layers} --steps 30 --sleep 0.1"
)
BANDIT = {"policyType": "Bandit", "slackFactor": 0.1, "evaluationInterval": 1, "delayEvaluation": 3}


@pytest.fixture(scope="module")
def jobs(browser: Any, studio_server: LiveServer) -> Iterator[httpx.Client]:
    """ui_metrics (metrics, outputs, a hostile tag and log line), ui_sweep (two trials, the
    poor one stopped early, a hostile parameter value), all finished."""
    with studio_server.client() as c:
        code = upload_code(c)
        put_job(
            c,
            "ui_metrics",
            command_body(
                "python metrics.py",
                codeId=code,
                experimentName="ui-exp",
                description=XSS,
                tags={"team": "vision", "note": XSS},
            ),
        )
        space = {
            "lr": ["choice", [[0.05]]],
            "layers": ["choice", [[3, 1]]],
            "opt": ["choice", [[XSS]]],
        }
        put_job(
            c, "ui_sweep", sweep_body(code, SWEEP_CMD, searchSpace=space, earlyTermination=BANDIT)
        )
        wait_job(c, "ui_metrics", "Completed")
        wait_job(c, "ui_sweep", "Completed")
        yield c


def no_xss(page: Any) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("#view img").count() == 0
    assert page.studio_errors == []


def test_sign_in_is_required(browser: Any, studio_server: LiveServer, jobs: httpx.Client) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{studio_server.url}/{job_hash('ui_metrics')}")
    wait_ready(page, "signin")
    assert page.locator("#job-name").count() == 0
    assert page.is_hidden("#workspace-form")
    # a wrong token: refused, still on sign-in, with the reason
    page.fill("#token", "not-the-token")
    page.click("#signin button[type=submit]")
    page.wait_for_function("document.querySelector('#signin-error').textContent.includes('401')")
    assert page.evaluate("sessionStorage.getItem('amlite.studio.token')") is None
    # the right token: the page asked for
    page.fill("#token", studio_server.token)
    page.click("#signin button[type=submit]")
    wait_ready(page, "job")
    assert page.text_content("#job-name") == "ui_metrics"
    # a token the server refuses later (401 on any call): back to sign-in with the message
    page.evaluate("sessionStorage.setItem('amlite.studio.token', 'revoked')")
    page.reload()
    wait_ready(page, "signin")
    assert "401" in page.text_content("#signin-error")
    # signing out forgets the token
    page.fill("#token", studio_server.token)
    page.click("#signin button[type=submit]")
    wait_ready(page, "job")
    page.click("#sign-out")
    wait_ready(page, "signin")
    assert page.evaluate("sessionStorage.getItem('amlite.studio.token')") is None
    context.close()


def test_jobs_list_filters_and_live_status(
    browser: Any, studio_server: LiveServer, jobs: httpx.Client
) -> None:
    page = open_page(browser, studio_server)
    wait_ready(page, "jobs")
    names = page.eval_on_selector_all(
        "#jobs-table tbody tr", "rows => rows.map(r => r.dataset.name)"
    )
    assert set(names) == {"ui_metrics", "ui_sweep"}  # trials are not top-level jobs
    row = page.locator("#jobs-table tr[data-name=ui_metrics]")
    assert XSS in row.inner_text()  # a tag value shown as text
    no_xss(page)
    screenshot(page, "studio-jobs.png")

    def filtered(**values: str) -> set[str]:
        for field in ("experiment", "tag"):
            page.fill(f"#job-filters [name={field}]", values.get(field, ""))
        for field in ("type", "status"):
            page.select_option(f"#job-filters [name={field}]", values.get(field, ""))
        page.click("#job-filters button[type=submit]")
        page.wait_for_function("document.querySelector('#jobs-info').textContent.includes('shown')")
        time.sleep(0.3)
        rows = page.eval_on_selector_all(
            "#jobs-table tbody tr", "rs => rs.map(r => r.dataset.name)"
        )
        return set(rows)

    assert filtered(type="Sweep") == {"ui_sweep"}
    assert filtered(type="Command") == {"ui_metrics"}
    assert filtered(tag="team=vision") == {"ui_metrics"}
    assert filtered(tag="team") == {"ui_metrics"}
    assert filtered(experiment="ui-sw") == {"ui_sweep"}
    assert filtered(status="Completed") == {"ui_metrics", "ui_sweep"}
    assert filtered(status="Failed") == set()
    assert filtered() == {"ui_metrics", "ui_sweep"}

    # a job submitted while the page is open appears and goes to Completed without a reload
    jobs.put(job_url("ui_live"), json=command_body('python -c "import time; time.sleep(1.5)"'))
    page.wait_for_selector("#jobs-table tr[data-name=ui_live]", timeout=10_000)
    page.wait_for_selector(
        "#jobs-table tr[data-name=ui_live] [data-status=Completed]", timeout=30_000
    )
    page.context.close()


def test_jobs_list_pages_through_next_link(browser: Any, studio_server: LiveServer) -> None:
    ws = WS.replace("/workspaces/ws1", "/workspaces/many")
    with studio_server.client() as c:
        for i in range(105):
            body = command_body("true", experimentName="exp-b" if i % 3 == 0 else "exp-a")
            assert c.put(f"{ws}/jobs/many{i:03d}?{API}", json=body).status_code == 201
    page = open_page(browser, studio_server)
    wait_ready(page, "jobs")
    page.fill("#workspace-form [name=ws]", "many")
    page.click("#workspace-form button[type=submit]")
    page.wait_for_function("document.querySelector('#jobs-table').dataset.rows === '100'")
    first = page.eval_on_selector("#jobs-table tbody tr", "r => r.dataset.name")
    assert first == "many104"  # newest first
    page.click("#load-more")
    page.wait_for_function("document.querySelector('#jobs-table').dataset.rows === '105'")
    assert page.is_hidden("#load-more")
    # experiment filtered in the browser across pages: 35 of the 105
    page.fill("#job-filters [name=experiment]", "exp-b")
    page.click("#job-filters button[type=submit]")
    page.wait_for_function("document.querySelector('#jobs-table').dataset.rows === '35'")
    assert "filtered in the browser" in page.text_content("#jobs-info")
    page.context.close()


def test_job_page_shows_history_log_metrics_and_outputs(
    browser: Any, studio_server: LiveServer, jobs: httpx.Client
) -> None:
    page = open_page(browser, studio_server, job_hash("ui_metrics"))
    wait_ready(page, "job")
    assert page.text_content("#job-status") == "Completed"
    assert page.is_disabled("#cancel")
    statuses = page.eval_on_selector_all(
        "#history [data-status]", "els => els.map(e => e.dataset.status)"
    )
    assert statuses[0] == "NotStarted" and statuses[-1] == "Completed" and "Running" in statuses
    page.wait_for_function("document.querySelector('#metrics').dataset.charts === '2'")
    charts = {
        d["metric"]: d
        for d in page.eval_on_selector_all(
            "#metrics .chart", "els => els.map(e => ({...e.dataset}))"
        )
    }
    assert charts["loss"]["series"] == "1" and charts["loss"]["points"] == "10"
    assert charts["acc"]["series"] == "1" and charts["acc"]["points"] == "5"
    page.wait_for_function("document.querySelector('#log').textContent.includes('in the log')")
    assert XSS in page.text_content("#log")
    assert XSS in page.text_content("#properties")
    page.wait_for_selector("#outputs [data-path='model.txt']")
    with page.expect_download() as info:
        page.click("#outputs [data-path='model.txt']")
    download = info.value
    assert download.suggested_filename == "model.txt"
    with open(download.path()) as f:
        assert f.read() == "weights"
    no_xss(page)
    screenshot(page, "studio-job.png")
    page.context.close()


def test_cancel_from_the_page(browser: Any, studio_server: LiveServer, jobs: httpx.Client) -> None:
    cmd = "python -c \"import time; print('started', flush=True); time.sleep(120)\""
    put_job(jobs, "ui_long", command_body(cmd))
    page = open_page(browser, studio_server, job_hash("ui_long"))
    wait_ready(page, "job")
    # the log is followed while the job runs
    page.wait_for_function(
        "document.querySelector('#log').textContent.includes('started')", timeout=30_000
    )
    page.wait_for_selector("#job-status [data-status=Running]", timeout=10_000)
    page.click("#cancel")
    page.wait_for_selector("#job-status [data-status=Canceled]", timeout=30_000)
    assert jobs.get(job_url("ui_long")).json()["properties"]["status"] == "Canceled"
    assert page.is_disabled("#cancel")
    page.context.close()


def test_a_distributed_jobs_log_is_shown_per_rank(
    browser: Any, studio_server: LiveServer, jobs: httpx.Client
) -> None:
    body = command_body(
        'echo "hello from rank $RANK"',
        distribution={"distributionType": "PyTorch", "processCount": 2},
    )
    put_job(jobs, "ui_dist", body)
    wait_job(jobs, "ui_dist", "Completed")
    page = open_page(browser, studio_server, job_hash("ui_dist"))
    wait_ready(page, "job")
    options = page.eval_on_selector_all("#log-rank option", "els => els.map(e => e.textContent)")
    assert options == ["rank 0", "rank 1"]
    page.wait_for_function(
        "document.querySelector('#log').textContent.includes('hello from rank 0')"
    )
    page.select_option("#log-rank", "1")
    page.wait_for_function(
        "document.querySelector('#log').textContent.includes('hello from rank 1')"
    )
    assert "rank 0" not in page.text_content("#log")
    page.context.close()


def test_sweep_page_trials_and_charts(
    browser: Any, studio_server: LiveServer, jobs: httpx.Client
) -> None:
    trials = jobs.get(f"{WS}/jobs?{API}&parentJobName=ui_sweep").json()["value"]
    counts = {
        t["name"]: len(
            jobs.get(f"{WS}/jobs/{t['name']}/metrics?{API}").json()["history"]["accuracy"]
        )
        for t in trials
    }
    page = open_page(browser, studio_server, job_hash("ui_sweep"))
    wait_ready(page, "sweep")
    table = attrs(page, "#trials")
    assert table["rows"] == "2" and table["shown"] == "2"
    order = page.eval_on_selector_all("#trials tbody tr", "rs => rs.map(r => r.dataset.name)")
    assert order == ["ui_sweep_0", "ui_sweep_1"]  # best score first (Maximize)
    poor = page.locator("#trials tr[data-name=ui_sweep_1]")
    assert poor.get_attribute("data-early") == "true"
    assert "early terminated" in poor.inner_text()
    assert "best" in page.locator("#trials tr[data-name=ui_sweep_0]").inner_text()
    assert XSS in poor.inner_text()  # a parameter value, shown as text
    # sorting asks the server for the page again: the header changes when the rows are in
    page.click("#trials th[data-sort=value]")
    page.wait_for_selector("#trials th[data-sort=value][aria-sort=ascending]")
    order = page.eval_on_selector_all("#trials tbody tr", "rs => rs.map(r => r.dataset.name)")
    assert order == ["ui_sweep_1", "ui_sweep_0"]
    page.click("#trials th[data-sort=index]")
    page.wait_for_selector("#trials th[data-sort=index][aria-sort=ascending]")
    order = page.eval_on_selector_all("#trials tbody tr", "rs => rs.map(r => r.dataset.name)")
    assert order == ["ui_sweep_0", "ui_sweep_1"]

    best = attrs(page, "#best-chart")
    assert best["series"] == "2"  # the trials' values and the best-so-far line
    assert best["points"] == "4"  # 2 trial values + best-so-far at trial 0 and trial 1
    curves = attrs(page, "#curves-chart")
    assert curves["series"] == "2" and curves["marked"] == "1"
    assert curves["points"] == str(sum(counts.values()))
    assert counts["ui_sweep_1"] < 30 == counts["ui_sweep_0"]
    parallel = attrs(page, "#parallel-chart")
    assert parallel["lines"] == "2" and parallel["axes"] == "4"  # layers, lr, opt, accuracy
    assert page.text_content("#best-trial") == "ui_sweep_0"
    no_xss(page)
    screenshot(page, "studio-sweep.png")
    # a trial links to its own page, which links back to the sweep
    page.click("#trials a >> text=ui_sweep_1")
    wait_ready(page, "job")
    assert page.text_content("#parent-link") == "ui_sweep"
    page.context.close()


def test_sweep_trials_filter_by_status_and_sort_from_the_keyboard(
    browser: Any, studio_server: LiveServer, jobs: httpx.Client
) -> None:
    trials = jobs.get(f"{WS}/jobs?{API}&parentJobName=ui_sweep").json()["value"]
    statuses = Counter(t["properties"]["status"] for t in trials)
    page = open_page(browser, studio_server, job_hash("ui_sweep"))
    wait_ready(page, "sweep")
    options = page.eval_on_selector_all(
        "#trials-status option", "os => os.map(o => [o.value, o.textContent])"
    )
    assert options == [["", f"all ({len(trials)})"]] + [
        [s, f"{s} ({n})"] for s, n in sorted(statuses.items())
    ]
    status, count = sorted(statuses.items())[-1]
    page.select_option("#trials-status", status)  # the server filters: the rows come back
    page.wait_for_selector(f"#trials[data-status={status}]")
    assert attrs(page, "#trials")["rows"] == str(count)
    rows = page.eval_on_selector_all("#trials tbody tr", "rs => rs.map(r => r.dataset.name)")
    assert sorted(rows) == sorted(t["name"] for t in trials if t["properties"]["status"] == status)
    page.select_option("#trials-status", "")
    page.wait_for_selector("#trials[data-status='']")
    # a header is focusable and sorts on Enter (descending on a second press)
    page.focus("#trials th[data-sort=index]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#trials th[data-sort=index][aria-sort=ascending]")
    page.focus("#trials th[data-sort=index]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#trials th[data-sort=index][aria-sort=descending]")
    rows = page.eval_on_selector_all("#trials tbody tr", "rs => rs.map(r => r.dataset.name)")
    assert rows == ["ui_sweep_1", "ui_sweep_0"]
    page.context.close()


def test_sweep_page_updates_while_the_sweep_runs(
    browser: Any, studio_server: LiveServer, jobs: httpx.Client
) -> None:
    code = upload_code(jobs, "livecode")
    cmd = (
        "python train.py --lr {search_space.lr} --layers {search_space.layers} "
        "--steps 4 --sleep 0.3"
    )
    body = sweep_body(
        code,
        cmd,
        searchSpace={"lr": ["choice", [[0.01]]], "layers": ["choice", [[1, 2, 3]]]},
        maxConcurrentTrials=1,
    )
    put_job(jobs, "ui_growing", body)
    page = open_page(browser, studio_server, job_hash("ui_growing"))
    wait_ready(page, "sweep")
    first = int(attrs(page, "#sweep").get("trials", "0"))
    assert first < 3
    page.wait_for_function(
        "document.querySelector('#sweep').dataset.trials === '3'", timeout=60_000
    )
    page.wait_for_selector("#job-status [data-status=Completed]", timeout=60_000)
    page.wait_for_function(
        "document.querySelector('#curves-chart').dataset.series === '3'", timeout=15_000
    )
    page.wait_for_function(
        "document.querySelector('#parallel-chart').dataset.lines === '3'", timeout=15_000
    )
    # the status badge and the sweep's summary refresh on their own timers: the summary
    # loads again once the sweep has ended, and then names the final best trial
    page.wait_for_function(
        "document.querySelector('#best-trial')?.textContent === 'ui_growing_2'", timeout=15_000
    )
    page.context.close()


def test_unknown_job_is_a_not_found_page(browser: Any, studio_server: LiveServer) -> None:
    page = open_page(browser, studio_server, job_hash("no_such_job"))
    wait_ready(page, "not-found")
    assert "no_such_job" in page.text_content("#view")
    page.goto(f"{studio_server.url}/#/nowhere")
    wait_ready(page, "not-found")
    page.context.close()


def test_static_files_and_studio_link(studio_server: LiveServer, jobs: httpx.Client) -> None:
    """The page and its files need no token; the Studio endpoint of a job is its page."""
    index = httpx.get(f"{studio_server.url}/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "script-src 'self'" in index.headers["content-security-policy"]
    js = httpx.get(f"{studio_server.url}/static/js/main.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert httpx.get(f"{studio_server.url}/static/vendor/chart.umd.min.js").status_code == 200
    for bad in ("/static/../routes/ui.py", "/static/js/../../../api/app.py", "/static/nope.js"):
        assert httpx.get(f"{studio_server.url}{bad}").status_code == 404
    studio = jobs.get(job_url("ui_metrics")).json()["properties"]["interactionEndpoints"]["Studio"]
    assert studio["endpoint"] == f"{studio_server.url}/{job_hash('ui_metrics')}"


def test_trial_summary_endpoint(studio_server: LiveServer, jobs: httpx.Client) -> None:
    url = f"{WS}/jobs/ui_sweep/trialsummary?{API}"
    data = jobs.get(url).json()
    assert (data["metric"], data["goal"], data["bestTrial"]) == (
        "accuracy",
        "Maximize",
        "ui_sweep_0",
    )
    trials = {t["name"]: t for t in data["value"]}
    assert [t["index"] for t in data["value"]] == [0, 1]
    assert trials["ui_sweep_1"]["earlyTerminated"] and not trials["ui_sweep_0"]["earlyTerminated"]
    assert trials["ui_sweep_0"]["hyperparameters"] == {"layers": 3, "lr": 0.05, "opt": XSS}
    assert trials["ui_sweep_0"]["score"] == data["score"] == trials["ui_sweep_0"]["best"]
    assert len(data["curves"]["ui_sweep_0"]) == 30 and not data["curvesCapped"]
    capped = jobs.get(url + "&curves=1&points=5").json()
    assert list(capped["curves"]) == ["ui_sweep_0"] and capped["curvesCapped"]
    points = capped["curves"]["ui_sweep_0"]
    assert len(points) == 5 and points[0][0] == 0 and points[-1][0] == 29
    assert jobs.get(url + "&curves=many").status_code == 400
    assert jobs.get(f"{WS}/jobs/nope/trialsummary?{API}").status_code == 404
    assert httpx.get(f"{studio_server.url}{url}").status_code == 401


def test_a_queued_job_says_why_it_waits(
    browser: Any, studio_server: LiveServer, jobs: httpx.Client
) -> None:
    put_job(jobs, "ui_hold", command_body("sleep 120"))
    wait_job(jobs, "ui_hold", "Running")
    wide = command_body(
        "true",
        compute={"instanceCount": 1, "instanceType": "cpu=1"},
        distribution={"distributionType": "PyTorch", "processCount": 4},
    )
    put_job(jobs, "ui_wide", wide)
    page = open_page(browser, studio_server, job_hash("ui_wide"))
    wait_ready(page, "job")
    page.wait_for_function(
        "document.querySelector('#overview').textContent.includes('needs 4 local slots')",
        timeout=15_000,
    )
    overview = page.text_content("#overview") or ""
    assert "Waiting" in overview and "of 4 free" in overview
    assert "1 x cpu=1" in overview
    jobs.post(f"{WS}/jobs/ui_hold/cancel?{API}")
    wait_job(jobs, "ui_wide", "Completed")
    page.context.close()
