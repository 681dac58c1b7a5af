"""The studio's deployments pages in Chromium: a template with two jobs is deployed; the list
shows it with its jobs linked, its page shows one operation per job, and a job link opens the
job's own page."""

from __future__ import annotations

import time
from typing import Any

from studio_helpers import RG, SUB, XSS, job_hash, open_page, screenshot, wait_ready

from support.server import LiveServer

JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
DEPLOYMENTS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Resources/deployments"
TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "resources": [
        {
            "type": JOBS,
            "apiVersion": "2021-03-01-preview",
            "name": "[format('ws1/dep-job-{0}', copyIndex())]",
            "copy": {"name": "jobs", "count": 2},
            "properties": {
                "jobType": "Command",
                "command": "echo deployed",
                "compute": {},
                "experimentName": "ui-deploy",
                "description": XSS,
            },
        }
    ],
    "outputs": {"note": {"type": "string", "value": XSS}},
}


def deploy(server: LiveServer, name: str) -> dict[str, Any]:
    with server.client() as c:
        body = {"properties": {"template": TEMPLATE, "mode": "Incremental"}}
        resp = c.put(f"{DEPLOYMENTS}/{name}?api-version=2021-04-01", json=body)
        assert resp.status_code == 201, resp.text
        deadline = time.monotonic() + 60
        while True:
            got: dict[str, Any] = c.get(f"{DEPLOYMENTS}/{name}?api-version=2021-04-01").json()
            if got["properties"]["provisioningState"] not in ("Accepted", "Running"):
                return got
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_deployments_list_and_page_link_the_jobs_they_created(
    browser: Any, studio_server: LiveServer
) -> None:
    done = deploy(studio_server, "twojobs")
    assert done["properties"]["provisioningState"] == "Succeeded", done["properties"]
    page = open_page(browser, studio_server)
    wait_ready(page, "jobs")
    page.click("#nav-deployments")  # the studio's navigation leads there
    wait_ready(page, "deployments")
    screenshot(page, "studio-deployments.png")
    row = page.locator("#deployments-table tr[data-name=twojobs]")
    assert row.get_attribute("data-state") == "Succeeded"
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == RG and cells[5] == "2"  # resource group, number of resources
    links = row.locator("a.job-link")
    assert links.all_inner_texts() == ["dep-job-0", "dep-job-1"]
    assert [links.nth(i).get_attribute("href") for i in range(2)] == [
        job_hash("dep-job-0"),
        job_hash("dep-job-1"),
    ]

    row.locator("a.deployment-link").click()
    wait_ready(page, "deployment")
    assert page.text_content("#deployment-name") == "twojobs"
    ops = page.locator("#operations tbody tr")
    assert ops.count() == 2
    for i in range(2):
        op = ops.nth(i)
        assert op.get_attribute("data-type") == JOBS
        assert op.get_attribute("data-state") == "Succeeded"
        assert op.locator("td").nth(3).inner_text() == "Created"
    screenshot(page, "studio-deployment.png")
    assert XSS in page.text_content("#deployment-outputs")  # an output shown as text
    assert page.evaluate("window.__xss") is None and page.locator("#view img").count() == 0

    page.locator("#operations a.job-link", has_text="dep-job-1").click()
    wait_ready(page, "job")
    assert page.text_content("#job-name") == "dep-job-1"
    assert page.studio_errors == []
    page.context.close()
