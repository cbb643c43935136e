"""The dashboard in a real headless Chromium, driven through the Chrome DevTools Protocol.

The page is loaded from the daemon (``/dashboard/``), then the tests change the cluster with the
real kubectl and Docker and read what the page shows from its DOM: a pod goes green, its
container is killed with ``docker kill``, the page records the death (red) and shows the pod
green again with RESTARTS 1 -- without a reload, through the watch streams. Sections of kinds
the API server does not serve are hidden (checked against discovery).

Set ``MINIKUBE_LITE_SCREENSHOT=docs/dashboard.png`` to keep the screenshot taken at the end.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from .conftest import Cluster, pod_running, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--ignore-certificate-errors", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--remote-debugging-port=0", "--window-size=1280,1000"]


_opened = iter(range(1_000_000))


def dashboard_url(cluster: Cluster) -> str:
    """The page with the cluster's token, as ``minikube-lite dashboard`` opens it (a fresh query each
    time: the same page again with only the #fragment would not load anew)."""
    return f"{cluster.url}/dashboard/?n={next(_opened)}#token={cluster.token}"


class Browser:
    """One headless Chromium and one page, spoken to with CDP over its websocket."""

    def __init__(self, profile: Path) -> None:
        if CHROMIUM is None:
            pytest.fail("chromium is not installed: apt-get install -y chromium (scripts/test.sh does it)")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.exists() and port_file.read_text().strip(), timeout=30,
                 what="Chromium's DevTools port")
        port = int(port_file.read_text().split()[0])
        targets = wait_for(lambda: self._pages(port), timeout=15, what="Chromium's first page")
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            connect(targets[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=10))
        self._id = 0

    @staticmethod
    def _pages(port: int) -> list[dict[str, Any]]:
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                return [t for t in json.load(r) if t.get("type") == "page"]
        except OSError:
            return []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:  # events (no id) are not used: skip them
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise AssertionError(f"CDP {method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.eval("window.__previousPage = true")  # gone once the new document is there
        self.send("Page.navigate", url=url)
        wait_for(lambda: self.eval("!window.__previousPage && document.readyState === 'complete' && "
                                   "!!document.getElementById('conn')"),
                 timeout=15, what="the page to load")

    def screenshot(self, path: Path) -> None:
        height = self.eval("Math.ceil(document.documentElement.scrollHeight)")
        self.send("Emulation.setDeviceMetricsOverride", width=1280, height=min(int(height), 2400),
                  deviceScaleFactor=1, mobile=False)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    b = Browser(tmp_path_factory.mktemp("chromium"))
    try:
        yield b
    finally:
        b.close()


POD = """
apiVersion: v1
kind: Pod
metadata:
  name: dash-pod
  labels:
    component: dash
spec:
  containers:
    - name: client
      image: minikube-lite/multi-client:1.0
      ports:
        - containerPort: 3000
"""

ROW = "document.querySelector('#pods tr[data-pod=\"default/dash-pod\"]')"


def row(browser: Browser) -> dict[str, Any] | None:
    return browser.eval("(() => { const tr = " + ROW + "; return tr && {state: tr.dataset.state, "
                        "restarts: tr.dataset.restarts, status: tr.dataset.status, "
                        "history: [...tr.querySelectorAll('td.history .dot')].map(d => d.className + ':' + d.title),"
                        "color: getComputedStyle(tr).backgroundColor}; })()")


def test_page_is_served(cluster: Cluster) -> None:
    with cluster.http() as c:
        page = c.get("/dashboard/")
        assert page.status_code == 200 and "minikube-lite dashboard" in page.text
        assert c.get("/dashboard/dashboard.js").status_code == 200
        assert c.get("/dashboard", follow_redirects=False).headers["location"] == "/dashboard/"
        missing = c.get("/dashboard/nothing.js")
        # as kube-apiserver answers a path nothing serves: Go's plain-text 404
        assert missing.status_code == 404 and missing.text.strip() == "404 page not found"


def test_kill_shows_red_then_green_with_restart(cluster: Cluster, browser: Browser) -> None:
    cluster.kubectl("apply", "-f", "-", input=POD)
    try:
        wait_for(lambda: pod_running(cluster, "dash-pod", 0), timeout=60, what="dash-pod Running")
        browser.open(dashboard_url(cluster))
        wait_for(lambda: browser.eval("document.getElementById('conn').textContent").endswith("live"),
                 timeout=15, what="the page's watch streams")
        first = wait_for(lambda: (r := row(browser)) and r["state"] == "ok" and r, timeout=15,
                         what="dash-pod green on the page")
        assert first["restarts"] == "0" and first["status"] == "Running"
        assert first["color"] == "rgb(231, 246, 236)"  # the green row
        # which node runs the pod, as kubectl get pods -o wide's NODE column
        assert browser.eval(f"{ROW}.querySelector('td.node').textContent") == cluster.settings.node_name
        # Record every state the row takes from now on, however briefly.
        browser.eval("""(() => { window.__seen = []; const tb = document.getElementById('pods');
            const rec = () => { const tr = tb.querySelector('tr[data-pod="default/dash-pod"]');
              if (tr) window.__seen.push(tr.dataset.state + ':' + tr.dataset.restarts); };
            new MutationObserver(rec).observe(tb, {subtree: true, attributes: true, childList: true}); })()""")

        (ctr,) = [c for c in cluster.containers("dash-pod")
                  if c.labels.get("io.kubernetes.container.name") == "client"]
        ctr.kill()

        last = wait_for(lambda: (r := row(browser)) and r["state"] == "ok" and r["restarts"] == "1" and r,
                        timeout=30, what="dash-pod green again with RESTARTS 1")
        seen = browser.eval("window.__seen")
        # Red: either the row itself went red (the kubelet reported the dead container before
        # restarting it) or the page recorded the death from the restart (a red dot in HISTORY).
        red_row = any(s.startswith("bad:") for s in seen)
        red_dot = any(h.startswith("dot bad") for h in last["history"])
        assert red_row or red_dot, (seen, last)
        assert last["history"][-1].startswith("dot ok"), last
        assert browser.eval(f"{ROW}.querySelector('td.restarts').textContent") == "1"
        assert browser.eval("performance.getEntriesByType('navigation').length") == 1  # no reload
        shot = os.environ.get("MINIKUBE_LITE_SCREENSHOT")
        if shot:
            browser.screenshot(Path(shot))
    finally:
        cluster.kubectl("delete", "pod", "dash-pod", "--wait=false", check=False)


def test_sections_follow_discovery(cluster: Cluster, browser: Browser) -> None:
    browser.open(dashboard_url(cluster))
    wait_for(lambda: browser.eval("document.getElementById('conn').textContent").endswith("live"),
             timeout=15, what="the page's watch streams")
    served: set[str] = set()
    for gv in ("api/v1", "apis/apps/v1", "apis/networking.k8s.io/v1", "apis/batch/v1"):
        doc = cluster.get(f"/{gv}") or {}
        served |= {r["name"] for r in doc.get("resources", []) if "/" not in r["name"]}
    hidden = browser.eval("Object.fromEntries([...document.querySelectorAll('section[data-kind]')]"
                          ".map(s => [s.dataset.kind, s.hidden]))")
    for kind, is_hidden in hidden.items():
        assert is_hidden == (kind not in served), (kind, hidden, served)
    assert not hidden["pods"] and not hidden["services"] and not hidden["events"]


def test_deployment_scale_shows_desired_vs_ready(cluster: Cluster, browser: Browser) -> None:
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dash-deploy
spec:
  replicas: 1
  selector:
    matchLabels: {component: dash-deploy}
  template:
    metadata:
      labels: {component: dash-deploy}
    spec:
      containers:
        - name: main
          image: minikube-lite/busybox:1.0
          command: ["sleep", "3600"]
"""
    cluster.kubectl("apply", "-f", "-", input=manifest)
    try:
        browser.open(dashboard_url(cluster))
        card = "document.querySelector('.workload[data-key=\"default/dash-deploy\"]')"

        def shown(desired: int, ready: int) -> bool:
            return browser.eval(f"(() => {{ const c = {card}; return !!c && c.dataset.desired === '{desired}' && "
                                f"c.dataset.ready === '{ready}' && "
                                f"c.querySelectorAll('.seg.ok').length === {ready}; }})()")

        wait_for(lambda: shown(1, 1), timeout=60, what="1 desired / 1 ready")
        cluster.kubectl("scale", "deployment", "dash-deploy", "--replicas=3")
        wait_for(lambda: browser.eval(f"{card}.dataset.desired") == "3", timeout=15, what="3 desired")
        wait_for(lambda: shown(3, 3), timeout=60, what="3 desired / 3 ready")
        pods = browser.eval("[...document.querySelectorAll('#pods tr[data-pod^=\"default/dash-deploy-\"]')]"
                            ".map(tr => tr.dataset.state)")
        assert pods == ["ok", "ok", "ok"], pods
        assert browser.eval("performance.getEntriesByType('navigation').length") == 1
    finally:
        cluster.kubectl("delete", "deployment", "dash-deploy", "--wait=false", check=False)


def test_page_left_and_come_back_to_is_live_again(cluster: Cluster, browser: Browser) -> None:
    """A page left for another address stays in Chromium's back/forward cache with its fetches open
    unless it closes them: it held 4 of the browser's 6 connections to the server and the next page
    never went live (the regression of session 3). Left, it must close its streams; back, reopen them."""
    browser.open(dashboard_url(cluster))
    live = "document.getElementById('conn').textContent.endsWith('live')"
    wait_for(lambda: browser.eval(live), timeout=15, what="the first page live")
    browser.eval("window.__first = true")
    for _ in range(2):  # two more pages: each would have kept 4 streams open before
        browser.open(dashboard_url(cluster))
        wait_for(lambda: browser.eval(live), timeout=15, what="the next page live")
    browser.send("Runtime.evaluate", expression="history.go(-2)")
    wait_for(lambda: browser.eval("!!window.__first && document.readyState === 'complete'"), timeout=15,
             what="the first page back (from the back/forward cache, or loaded anew)")
    wait_for(lambda: browser.eval(live), timeout=15, what="the page live again after coming back")
    assert browser.eval("link.away") is False


def test_workloads_section_shows_jobs_and_statefulsets(cluster: Cluster, browser: Browser) -> None:
    cluster.kubectl("create", "job", "dash-job", "--image=minikube-lite/busybox:1.0", "--", "true")
    try:
        browser.open(f"{cluster.url}/dashboard/")
        row = "document.querySelector('#workloads tr[data-key=\"Job/default/dash-job\"]')"
        wait_for(lambda: browser.eval(f"(() => {{ const r = {row}; return r && r.dataset.summary; }})()")
                 == "Complete 1/1", timeout=60, what="the Job shown Complete")
        assert browser.eval(f"{row}.dataset.kind") == "Job"
    finally:
        cluster.kubectl("delete", "job", "dash-job", "--wait=false", check=False)

