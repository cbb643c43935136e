"""metrics-server's scraper and storage: the last scrape of every kubelet, kept in memory.

metrics-server scrapes each node's kubelet once per ``--metric-resolution`` and answers
``metrics.k8s.io`` from what it stored (``pkg/scraper``, ``pkg/storage``): a request never waits
for a kubelet. Here the API server does the same for the group it serves in-process
(apiserver/metrics.py): :meth:`MetricsScraper.run` scrapes every Ready node's kubelet endpoint
(``/minikube-lite/resource-metrics``) side by side each resolution, over one kept-alive HTTPS
connection per node (httpx's pool, the API server's kubelet-client certificate, the cluster CA
verifying the kubelet), and a round replaces the store, so a node that failed its scrape is absent
until it answers again, as in metrics-server.

The rounds follow the kubelets' own: each answer says when its kubelet's last sampling round
ended (``sampledAt``), and the next round comes just after the earliest next one (``ALIGN``
seconds later, at most one resolution from now). With one node a sample is in the
store within a fraction of a second instead of up to a resolution later, which the HPA's
load -> scale-out figure needs (kubelet sample + scrape + the HPA's 15 s sync stays under 20 s);
metrics-server's rounds are not aligned, its kubelets' cAdvisor housekeeping is not either.

A request before the first round (just after start), or while no loop runs (an app without the
daemon, as in unit tests) or after the loop fell behind by two resolutions, waits for one round
instead of answering from nothing or from stale samples; concurrent requests share that round.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from minikube_lite.api import register
from minikube_lite.api.conditions import ready
from minikube_lite.api.errors import ApiError
from minikube_lite.config import METRICS_KEEPALIVE_SECONDS

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT = 2.0
PATH = "/minikube-lite/resource-metrics"
#: how long an idle kubelet connection is kept (config.py says why); more than a round apart, so
#: every round reuses it
KEEPALIVE_SECONDS = METRICS_KEEPALIVE_SECONDS
#: how long after a kubelet's round the next scrape comes (its round takes a few ms of file reads)
ALIGN = 0.3


class MetricsScraper:
    """The store of the last scrape per node, and the loop that refreshes it."""

    def __init__(self, app: Any, registry: Any, resolution: float = 5.0) -> None:
        self.app, self.registry, self.resolution = app, registry, resolution
        self.scraped: dict[str, dict[str, Any]] = {}  # node name -> its kubelet's answer
        self.scraped_at: float | None = None  # time.monotonic() of the last round's end
        self._round: asyncio.Task[None] | None = None
        self._client: Any = None
        self._client_ctx: Any = None

    def _http(self) -> Any:
        ctx = getattr(self.app.state, "kubelet_tls", None)
        if self._client is None or self._client_ctx is not ctx:
            import httpx

            self._client = httpx.AsyncClient(verify=ctx, timeout=SCRAPE_TIMEOUT, limits=httpx.Limits(
                max_keepalive_connections=64, keepalive_expiry=KEEPALIVE_SECONDS))
            self._client_ctx = ctx
        return self._client

    async def _scrape(self, node_obj: dict[str, Any]) -> dict[str, Any] | None:
        import httpx

        from .nodeproxy import kubelet_endpoint

        if getattr(self.app.state, "kubelet_tls", None) is None:
            return None
        node = node_obj["metadata"]["name"]
        try:
            host, port = kubelet_endpoint(node_obj)
        except ApiError as e:  # a node without an endpoint is left out, never an error
            log.info("metrics of node %s: %s", node, e)
            return None
        url = f"https://{f'[{host}]' if ':' in host else host}:{port}{PATH}"
        for attempt in (1, 2):  # a kept-alive connection the kubelet just closed: once more on a new one
            try:
                resp = await self._http().get(url)
                return resp.json() if resp.status_code == 200 else None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
                if attempt == 2:
                    log.info("metrics of node %s: %s", node, e)
            except Exception as e:  # noqa: BLE001 - an unreachable node is left out, never an error
                log.info("metrics of node %s: %s", node, e)
                return None
        return None

    async def scrape_round(self) -> None:
        """Scrape every Ready node now and replace the store with the answers."""
        nodes, _, _ = self.registry.list(register.by_plural("nodes", ""), None)
        ready_nodes = sorted((n for n in nodes if ready(n)), key=lambda n: n["metadata"]["name"])
        got = await asyncio.gather(*(self._scrape(n) for n in ready_nodes))
        self.scraped = {n["metadata"]["name"]: g for n, g in zip(ready_nodes, got, strict=True) if g is not None}
        self.scraped_at = time.monotonic()

    async def _shared_round(self) -> None:
        if self._round is None or self._round.done():
            self._round = asyncio.create_task(self.scrape_round(), name="metrics scrape")
        await asyncio.shield(self._round)

    async def latest(self) -> dict[str, dict[str, Any]]:
        """The last scrape; one scrape first when there is none or it is older than two resolutions."""
        if self.scraped_at is None or time.monotonic() - self.scraped_at > 2 * self.resolution:
            await self._shared_round()
        return self.scraped

    def next_delay(self, now: float) -> float:
        """Seconds until the next round: ``ALIGN`` after the earliest kubelet's next sampling round
        (``now`` is ``time.time()``), at most a resolution; a kubelet that is late is asked again
        ``ALIGN`` later, one that stopped sampling (a resolution late) no longer sets the pace."""
        due = [float(g.get("sampledAt") or 0) + float(g.get("resolution") or self.resolution)
               for g in self.scraped.values() if g.get("sampledAt")]
        due = [d for d in due if now - d < self.resolution]
        if not due:
            return self.resolution
        return min(max(min(due) + ALIGN - now, ALIGN), self.resolution)

    async def run(self) -> None:
        """Scrape once per resolution, as metrics-server does, until cancelled."""
        try:
            while True:
                await self._shared_round()
                await asyncio.sleep(self.next_delay(time.time()))
        finally:
            if self._client is not None:
                client, self._client = self._client, None
                await client.aclose()
