"""Image pulls as Kubernetes' kubelet does them.

``imagePullPolicy`` (Always / IfNotPresent / Never, defaulted by tag in spec.py), the events
``Pulling`` / ``Pulled`` / ``Failed``, and the pull back-off: a failed pull shows
``ErrImagePull``, then ``ImagePullBackOff`` until the next try (10 s doubling to 5 min).
Pulls run in the kubelet's Docker thread pool, so one slow pull never blocks other pods.

One difference from Kubernetes, on by default (``image_pull="local-fallback"``): the kubelet
runs on the machine's own Docker engine, so an image that ``docker build`` made is already on the
"node". When a pull fails (registry unreachable, image only built locally) and the engine holds
an image of that name, the kubelet runs that image and records a Warning event naming both the
pull error and the local image ID, instead of ``ErrImagePull``. ``image_pull="kubernetes"``
(``minikube-lite start --image-pull=kubernetes``) restores Kubernetes' semantics exactly.
"""

from __future__ import annotations

import time
from typing import Any

import docker
import docker.errors

from .base import KubeletBase, docker_message, pod_key, pod_uid
from .spec import pull_policy
from .status import Waiting

LOCAL_FALLBACK, KUBERNETES = "local-fallback", "kubernetes"
PULL_MODES = (LOCAL_FALLBACK, KUBERNETES)


class ImagePuller(KubeletBase):
    async def _ensure_image(self, pod: dict[str, Any], container: dict[str, Any]) -> bool:
        uid, cname, image = pod_uid(pod), container["name"], container.get("image", "")
        policy = pull_policy(container)
        waiting = self._waiting.setdefault(uid, {})
        if not image.strip():
            waiting[cname] = Waiting("InvalidImageName", "the container has no image")
            return False
        present = await self._docker(self.runtime.image_present, image)
        if policy == "Never" and not present:
            message = f'Container image "{image}" is not present with pull policy of Never'
            if waiting.get(cname) != Waiting("ErrImageNeverPull", message):
                self._events.record(pod, "ErrImageNeverPull", message, type="Warning", container=cname)
            waiting[cname] = Waiting("ErrImageNeverPull", message)
            return False
        if present and policy != "Always":
            self._events.record(pod, "Pulled", f'Container image "{image}" already present on machine',
                                container=cname)
            return True
        key = (uid, cname)
        now = time.time()
        wait = self._pull_backoff.wait_time(key, self._pull_failed_at.get(key, now), now)
        if wait > 0:
            message = f'Back-off pulling image "{image}"'
            if waiting.get(cname) != Waiting("ImagePullBackOff", message):
                self._events.record(pod, "BackOff", message, container=cname)
            waiting[cname] = Waiting("ImagePullBackOff", message)
            self._queue.add_after(pod_key(pod), wait + 0.05)
            return False
        waiting[cname] = Waiting("ContainerCreating")
        self._events.record(pod, "Pulling", f'Pulling image "{image}"', container=cname)
        started = time.monotonic()
        try:
            await self._docker(self.runtime.pull, image)
        except docker.errors.DockerException as e:
            message = docker_message(e)
            local = await self._local_image_id(image) if self.image_pull == LOCAL_FALLBACK else None
            if local is not None:
                self._pull_backoff.forget(key)
                self._events.record(pod, "Failed", f'Failed to pull image "{image}": {message}; using the '
                                    f"local image {local} of the same name instead (minikube-lite "
                                    "--image-pull=local-fallback)", type="Warning", container=cname)
                return True
            self._pull_backoff.record(key, now)
            self._pull_failed_at[key] = now
            waiting[cname] = Waiting("ErrImagePull", message)
            self._events.record(pod, "Failed", f'Failed to pull image "{image}": {message}', type="Warning",
                                container=cname)
            self._events.record(pod, "Failed", "Error: ErrImagePull", type="Warning", container=cname)
            self._queue.add_after(pod_key(pod), 2.0)  # then shows ImagePullBackOff until the retry
            return False
        self._pull_backoff.forget(key)
        self._events.record(pod, "Pulled", f'Successfully pulled image "{image}" in '
                            f"{time.monotonic() - started:.3f}s", container=cname)
        return True

    async def _local_image_id(self, image: str) -> str | None:
        """The ID of the engine's image called ``image``, if it holds one."""
        try:
            return str((await self._docker(self.runtime.docker.images.get, image)).id)
        except docker.errors.DockerException:
            return None
