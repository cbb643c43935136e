"""The dashboard: one web page, served by the daemon at ``/dashboard/``, that shows the cluster live.

What minikube's ``minikube dashboard`` gives a learner (the Kubernetes Dashboard), reduced to the
page that makes the reconcile loop visible: namespaces, Deployments and ReplicaSets with desired
vs ready, Pods coloured by state with their RESTARTS, Services, Ingresses and recent Events.

The page is plain HTML, CSS and JavaScript in ``static/`` (no build step, nothing fetched from a
CDN: these machines have no network). It is a client of the API like kubectl: it reads discovery
to learn which kinds are served (a kind not served yet has its section hidden), lists each kind,
then follows it with a streaming ``?watch=true`` request, so it updates without reloading.

The daemon calls :func:`install` on its Starlette app; nothing here touches the store.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
PATH = "/dashboard/"


class _NoCacheStatic(StaticFiles):
    """Static files that the browser revalidates each load (the page changes with the package)."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install(app: Starlette) -> None:
    """Serve the dashboard at ``/dashboard/`` (``/dashboard`` redirects there)."""

    async def _dashboard_redirect(request: Request) -> RedirectResponse:
        return RedirectResponse(PATH, status_code=301)

    app.add_route("/dashboard", _dashboard_redirect, methods=["GET"])

    app.mount(PATH.rstrip("/"), _NoCacheStatic(directory=STATIC_DIR, html=True), name="dashboard")
