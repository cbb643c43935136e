// minikube-lite dashboard: a client of the Kubernetes API, like kubectl, running in the page.
//
// For each kind it shows, a "reflector" (client-go's word) lists the kind across all namespaces,
// then follows a streaming `?watch=true&resourceVersion=...` request and applies each ADDED /
// MODIFIED / DELETED line to its cache. A 410 Gone (the watch window moved on) or a dropped
// connection relists. Which kinds exist is read from discovery: a kind the server does not serve
// has its section hidden. Plain JavaScript, no build step, nothing loaded from the network.
"use strict";

// A browser opens at most 6 HTTP/1.1 connections to one server, and each watch holds one open.
// So the kinds that move with the reconcile loop are watched; the slow ones (namespaces,
// services, ingresses) are listed again every POLL_MS, which leaves connections for the lists.
const KINDS = [
  { plural: "namespaces", group: "", version: "v1", poll: true },
  { plural: "deployments", group: "apps", version: "v1" },
  { plural: "replicasets", group: "apps", version: "v1" },
  { plural: "pods", group: "", version: "v1" },
  { plural: "services", group: "", version: "v1", poll: true },
  { plural: "ingresses", group: "networking.k8s.io", version: "v1", poll: true },
  { plural: "statefulsets", group: "apps", version: "v1", poll: true },
  { plural: "daemonsets", group: "apps", version: "v1", poll: true },
  { plural: "jobs", group: "batch", version: "v1", poll: true },
  { plural: "cronjobs", group: "batch", version: "v1", poll: true },
  { plural: "events", group: "", version: "v1" },
];
const POLL_MS = 2000;

// The API wants credentials: `minikube-lite dashboard` opens the page with the cluster's token in
// the URL fragment (never sent to a server); it is kept for this tab and the fragment cleared.
const TOKEN = (() => {
  const m = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash);
  if (m) {
    sessionStorage.setItem("minikube-lite-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem("minikube-lite-token") || "";
})();

function apiHeaders() {
  const h = { Accept: "application/json" };
  if (TOKEN) h.Authorization = `Bearer ${TOKEN}`;
  return h;
}

// Those 6 connections (see KINDS) are shared by every tab on the server and by the pages the
// browser keeps in its back/forward cache, whose fetches stay open there: a page left for another
// address (even the same page with a new query) held its 4 watch streams and the next page
// starved. So a page that is left, frozen or hidden closes everything it has open (the
// reflectors wait) and, shown again, lists and watches anew.
const link = { ctrl: new AbortController(), away: false, back: Promise.resolve(), wake: () => {} };

function leave() {
  if (link.away) return;
  link.away = true;
  link.back = new Promise((resolve) => { link.wake = resolve; });
  link.ctrl.abort();
}

function comeBack() {
  if (!link.away) return;
  link.away = false;
  link.ctrl = new AbortController();
  link.wake();
}

async function present() {
  while (link.away) await link.back;
}

function api(url) {
  return fetch(url, { headers: apiHeaders(), signal: link.ctrl.signal });
}

const HISTORY_LEN = 12;
const EVENTS_SHOWN = 40;
const BAD_REASONS = new Set([
  "CrashLoopBackOff", "Error", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
  "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "ContainerCannotRun",
  "OOMKilled", "StartError", "Failed", "Unknown", "NotReady", "Evicted", "DeadlineExceeded",
]);

const state = {
  caches: {},          // plural -> Map("ns/name" -> object)
  served: new Set(),   // plurals the server serves
  running: new Set(),  // plurals with a reflector started
  namespace: localStorage.getItem("mkl-namespace") || "",
  podHistory: new Map(),  // "ns/name" -> [{cls, text, at}]
  podSeen: new Map(),     // "ns/name" -> last {cls, restarts}
  streamsUp: new Set(),
  lastError: "",
};

// ------------------------------------------------------------------------------------ helpers

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function keyOf(obj) {
  const m = obj.metadata || {};
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}

function basePath(kind) {
  return kind.group ? `/apis/${kind.group}/${kind.version}/${kind.plural}` : `/api/${kind.version}/${kind.plural}`;
}

// kubectl's short age: 45s, 12m, 3h, 5d (with one more unit under 10 of the big one, like 2m30s).
function age(ts) {
  if (!ts) return "<unknown>";
  let s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  let m = Math.floor(s / 60); s %= 60;
  if (m < 10) return s ? `${m}m${s}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  let h = Math.floor(m / 60); m %= 60;
  if (h < 8) return m ? `${h}h${m}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24); h %= 24;
  return d < 8 && h ? `${d}d${h}h` : `${d}d`;
}

function inNamespace(obj) {
  return !state.namespace || (obj.metadata || {}).namespace === state.namespace;
}

function items(plural) {
  const cache = state.caches[plural];
  if (!cache) return [];
  return [...cache.values()].filter(inNamespace);
}

function byName(a, b) {
  return keyOf(a).localeCompare(keyOf(b));
}

// ------------------------------------------------------------------------------ pod status

// The STATUS column as kubectl prints it (kubectl's printPod), and a colour class from it.
function podStatus(pod) {
  const st = pod.status || {};
  const spec = pod.spec || {};
  let reason = st.reason || st.phase || "Pending";
  let initializing = false;
  const inits = st.initContainerStatuses || [];
  inits.forEach((c, i) => {
    const s = c.state || {};
    if (s.terminated && s.terminated.exitCode === 0) return;
    if (initializing) return;
    if (s.terminated) {
      reason = s.terminated.reason ? `Init:${s.terminated.reason}` : `Init:ExitCode:${s.terminated.exitCode}`;
    } else if (s.waiting && s.waiting.reason && s.waiting.reason !== "PodInitializing") {
      reason = `Init:${s.waiting.reason}`;
    } else {
      reason = `Init:${i}/${(spec.initContainers || []).length}`;
    }
    initializing = true;
  });
  let ready = 0;
  let restarts = 0;
  const statuses = st.containerStatuses || [];
  for (const c of statuses) {
    restarts += c.restartCount || 0;
    if (c.ready) ready += 1;
  }
  for (const c of inits) restarts += c.restartCount || 0;
  if (!initializing) {
    let hasRunning = false;
    for (let i = statuses.length - 1; i >= 0; i--) {
      const s = statuses[i].state || {};
      if (s.waiting && s.waiting.reason) reason = s.waiting.reason;
      else if (s.terminated && s.terminated.reason) reason = s.terminated.reason;
      else if (s.terminated) reason = s.terminated.signal ? `Signal:${s.terminated.signal}` : `ExitCode:${s.terminated.exitCode}`;
      else if (s.running && statuses[i].ready) hasRunning = true;
    }
    if (reason === "Completed" && hasRunning) reason = "Running";
  }
  const total = (spec.containers || []).length || statuses.length;
  const meta = pod.metadata || {};
  let cls;
  if (meta.deletionTimestamp) {
    reason = st.reason === "NodeLost" ? "Unknown" : "Terminating";
    cls = "done";
  } else if (st.phase === "Succeeded" || reason === "Completed") {
    cls = "done";
  } else if (st.phase === "Failed" || BAD_REASONS.has(reason) || reason.startsWith("Signal:") ||
             reason.startsWith("ExitCode:") || reason.startsWith("Init:Error") || reason.startsWith("Init:Crash")) {
    cls = "bad";
  } else if (st.phase === "Running") {
    cls = total > 0 && ready === total ? "ok" : "bad";
  } else {
    cls = "pending";
  }
  return { reason, ready, total, restarts, cls };
}

function ownerOf(obj) {
  const refs = (obj.metadata || {}).ownerReferences || [];
  return refs.find((r) => r.controller) || refs[0] || null;
}

function recordPodHistory(pod, st) {
  const key = keyOf(pod);
  const hist = state.podHistory.get(key) || [];
  const prev = state.podSeen.get(key);
  // A restart between two updates means a container died, even when the kubelet restarted it
  // before the page saw it stopped: record that death (lastState.terminated tells how).
  if (prev && st.restarts > prev.restarts && !(hist.length && hist[hist.length - 1].cls === "bad")) {
    const last = ((pod.status || {}).containerStatuses || []).map((c) => (c.lastState || {}).terminated).find(Boolean);
    const how = last ? `${last.reason || "Terminated"} (exit ${last.exitCode})` : "died";
    hist.push({ cls: "bad", text: `container ${how}` });
  }
  if (!hist.length || hist[hist.length - 1].cls !== st.cls || hist[hist.length - 1].text !== st.reason) {
    hist.push({ cls: st.cls, text: st.reason });
  }
  while (hist.length > HISTORY_LEN) hist.shift();
  state.podHistory.set(key, hist);
  state.podSeen.set(key, { cls: st.cls, restarts: st.restarts });
}

// --------------------------------------------------------------------------------- rendering

// Keyed rows: a row element is kept per object and updated in place, so a change is one DOM write.
function syncRows(tbodyId, rows) {
  const tbody = $(tbodyId);
  const existing = new Map([...tbody.children].map((tr) => [tr.dataset.key, tr]));
  rows.forEach((row, i) => {
    let tr = existing.get(row.key);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.key = row.key;
    }
    existing.delete(row.key);
    if (tr.dataset.html !== row.html) {
      tr.innerHTML = row.html;
      tr.dataset.html = row.html;
    }
    tr.className = row.cls || "";
    for (const [k, v] of Object.entries(row.data || {})) tr.dataset[k] = v;
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
  });
  for (const tr of existing.values()) tr.remove();
  const empty = $(`${tbodyId}-empty`);
  if (empty) empty.hidden = rows.length > 0;
}

function bar(desired, parts) {
  // parts: [{n, cls, label}] drawn left to right; the bar's width is max(desired, sum of parts).
  const total = Math.max(desired, parts.reduce((a, p) => a + p.n, 0), 1);
  let html = `<span class="bar" title="${esc(parts.map((p) => `${p.n} ${p.label}`).join(", "))}">`;
  for (const p of parts) {
    for (let i = 0; i < p.n; i++) html += `<i class="seg ${p.cls}" style="width:${100 / total}%"></i>`;
  }
  const shown = parts.reduce((a, p) => a + p.n, 0);
  for (let i = shown; i < desired; i++) html += `<i class="seg missing" style="width:${100 / total}%"></i>`;
  return html + "</span>";
}

function podsOwnedBy(uids) {
  return items("pods").filter((p) => {
    const o = ownerOf(p);
    return o && uids.has(o.uid);
  });
}

function podParts(pods) {
  const count = { ok: 0, pending: 0, bad: 0 };
  for (const p of pods) {
    const c = podStatus(p).cls;
    if (c in count) count[c] += 1;
  }
  return [
    { n: count.ok, cls: "ok", label: "ready" },
    { n: count.pending, cls: "pending", label: "starting" },
    { n: count.bad, cls: "bad", label: "not ready" },
  ];
}

function renderNamespaces() {
  const select = $("namespace");
  const names = [...(state.caches.namespaces || new Map()).values()].map((n) => n.metadata.name).sort();
  const current = state.namespace;
  const options = [""].concat(names);
  if (current && !options.includes(current)) options.push(current);
  const wanted = options.map((n) => `<option value="${esc(n)}">${n ? esc(n) : "all namespaces"}</option>`).join("");
  if (select.dataset.html !== wanted) {
    select.innerHTML = wanted;
    select.dataset.html = wanted;
  }
  select.value = current;
  const chips = $("namespaces");
  chips.innerHTML = names.map((n) => {
    const ns = state.caches.namespaces.get(n);
    const phase = (ns.status || {}).phase || "Active";
    const pods = [...(state.caches.pods || new Map()).values()].filter((p) => p.metadata.namespace === n).length;
    return `<button class="chip ${n === current ? "selected" : ""} ${phase !== "Active" ? "terminating" : ""}" ` +
      `data-ns="${esc(n)}">${esc(n)} <span class="muted">${pods} pod${pods === 1 ? "" : "s"}` +
      `${phase !== "Active" ? " · " + esc(phase) : ""}</span></button>`;
  }).join("");
}

function renderDeployments() {
  const box = $("deployments");
  const rsList = [...(state.caches.replicasets || new Map()).values()];
  const deps = items("deployments").sort(byName);
  const html = deps.map((d) => {
    const spec = d.spec || {};
    const st = d.status || {};
    const desired = spec.replicas ?? 1;
    const rsUids = new Set(rsList.filter((rs) => (ownerOf(rs) || {}).uid === d.metadata.uid).map((rs) => rs.metadata.uid));
    const pods = podsOwnedBy(rsUids);
    const parts = podParts(pods);
    const ready = st.readyReplicas || 0;
    const images = ((spec.template || {}).spec || {}).containers || [];
    const cls = ready >= desired && (st.updatedReplicas || 0) >= desired ? "ok" : "progressing";
    return `<div class="workload ${cls}" data-key="${esc(keyOf(d))}" data-desired="${desired}" data-ready="${ready}">` +
      `<div class="wl-head"><b>${esc(d.metadata.name)}</b> <span class="muted">${esc(d.metadata.namespace)}</span>` +
      `<span class="wl-count"><b>${desired}</b> desired / <b>${ready}</b> ready</span></div>` +
      bar(desired, parts) +
      `<div class="wl-foot muted">${st.replicas || 0} current · ${st.updatedReplicas || 0} up-to-date · ` +
      `${st.availableReplicas || 0} available · ${pods.length} pod${pods.length === 1 ? "" : "s"} · ` +
      `${images.map((c) => esc(c.image)).join(", ")} · age ${age(d.metadata.creationTimestamp)}</div></div>`;
  }).join("");
  if (box.dataset.html !== html) {
    box.innerHTML = html;
    box.dataset.html = html;
  }
  $("deployments-empty").hidden = deps.length > 0;
}

function renderReplicaSets() {
  const rows = items("replicasets").sort(byName).map((rs) => {
    const spec = rs.spec || {};
    const st = rs.status || {};
    const desired = spec.replicas ?? 1;
    const owner = ownerOf(rs);
    const pods = podsOwnedBy(new Set([rs.metadata.uid]));
    return {
      key: keyOf(rs),
      cls: desired === 0 ? "faded" : "",
      data: { desired: String(desired), ready: String(st.readyReplicas || 0) },
      html: `<td>${esc(rs.metadata.name)}</td><td>${esc(rs.metadata.namespace)}</td>` +
        `<td>${owner ? esc(`${owner.kind}/${owner.name}`) : "—"}</td><td>${desired}</td><td>${st.replicas || 0}</td>` +
        `<td>${st.readyReplicas || 0}</td><td class="bar-col">${bar(desired, podParts(pods))}</td>` +
        `<td>${age(rs.metadata.creationTimestamp)}</td>`,
    };
  });
  syncRows("replicasets", rows);
}

function renderPods() {
  const rows = items("pods").sort(byName).map((p) => {
    const st = podStatus(p);
    const owner = ownerOf(p);
    const hist = state.podHistory.get(keyOf(p)) || [];
    const dots = hist.map((h) => `<i class="dot ${h.cls}" title="${esc(h.text)}"></i>`).join("");
    return {
      key: keyOf(p),
      cls: `pod ${st.cls}`,
      data: { pod: keyOf(p), state: st.cls, status: st.reason, restarts: String(st.restarts) },
      html: `<td><i class="dot ${st.cls}"></i></td><td class="name">${esc(p.metadata.name)}</td>` +
        `<td>${esc(p.metadata.namespace)}</td><td>${st.ready}/${st.total}</td>` +
        `<td class="status">${esc(st.reason)}</td><td class="restarts">${st.restarts}</td>` +
        `<td>${age(p.metadata.creationTimestamp)}</td><td>${esc((p.status || {}).podIP || "<none>")}</td>` +
        `<td class="node">${esc((p.spec || {}).nodeName || "<none>")}</td>` +
        `<td>${owner ? esc(`${owner.kind}/${owner.name}`) : "—"}</td><td class="history">${dots}</td>`,
    };
  });
  syncRows("pods", rows);
}

function servicePorts(svc) {
  return ((svc.spec || {}).ports || []).map((p) => {
    const node = p.nodePort ? `:${p.nodePort}` : "";
    return `${p.port}${node}/${p.protocol || "TCP"}`;
  }).join(",") || "<none>";
}

function renderServices() {
  const rows = items("services").sort(byName).map((s) => {
    const spec = s.spec || {};
    const ingress = (((s.status || {}).loadBalancer || {}).ingress || []).map((i) => i.ip || i.hostname);
    const external = (spec.externalIPs || []).concat(ingress);
    const sel = Object.entries(spec.selector || {}).map(([k, v]) => `${k}=${v}`).join(",");
    return {
      key: keyOf(s),
      html: `<td>${esc(s.metadata.name)}</td><td>${esc(s.metadata.namespace)}</td><td>${esc(spec.type || "ClusterIP")}</td>` +
        `<td>${esc(spec.clusterIP || "<none>")}</td>` +
        `<td>${esc(external.length ? external.join(",") : spec.type === "LoadBalancer" ? "<pending>" : "<none>")}</td>` +
        `<td>${esc(servicePorts(s))}</td><td>${esc(sel || "<none>")}</td><td>${age(s.metadata.creationTimestamp)}</td>`,
    };
  });
  syncRows("services", rows);
}

function renderIngresses() {
  const rows = items("ingresses").sort(byName).map((ing) => {
    const spec = ing.spec || {};
    const rules = spec.rules || [];
    const hosts = rules.map((r) => r.host).filter(Boolean);
    const paths = rules.flatMap((r) => ((r.http || {}).paths || []).map((p) => {
      const svc = (p.backend || {}).service || {};
      const port = (svc.port || {}).number ?? (svc.port || {}).name ?? "";
      return `${r.host || "*"}${p.path || "/"} → ${svc.name}:${port}`;
    }));
    const addr = (((ing.status || {}).loadBalancer || {}).ingress || []).map((i) => i.ip || i.hostname).join(",");
    const cls = spec.ingressClassName || ((ing.metadata.annotations || {})["kubernetes.io/ingress.class"]) || "<none>";
    return {
      key: keyOf(ing),
      html: `<td>${esc(ing.metadata.name)}</td><td>${esc(ing.metadata.namespace)}</td><td>${esc(cls)}</td>` +
        `<td>${esc(hosts.length ? hosts.join(",") : "*")}</td><td>${paths.map(esc).join("<br>")}</td>` +
        `<td>${esc(addr)}</td><td>${age(ing.metadata.creationTimestamp)}</td>`,
    };
  });
  syncRows("ingresses", rows);
}

// StatefulSets, DaemonSets, Jobs and CronJobs in one table: desired vs ready as for Deployments.
function workloadRow(kind, o) {
  const spec = o.spec || {};
  const st = o.status || {};
  const cond = (t) => (st.conditions || []).some((c) => c.type === t && c.status === "True");
  let desired = 0;
  let summary = "";
  let cls = "";
  if (kind === "StatefulSet") {
    desired = spec.replicas ?? 1;
    summary = `${st.readyReplicas || 0}/${desired} ready`;
  } else if (kind === "DaemonSet") {
    desired = st.desiredNumberScheduled || 0;
    summary = `${st.numberReady || 0}/${desired} ready`;
  } else if (kind === "Job") {
    desired = spec.completions ?? 1;
    const word = cond("Complete") ? "Complete" : cond("Failed") ? "Failed" : cond("Suspended") ? "Suspended" : "Running";
    summary = `${word} ${st.succeeded || 0}/${desired}`;
    cls = word === "Failed" ? "warning" : word === "Complete" ? "faded" : "";
  } else {
    summary = `${spec.schedule}${spec.suspend ? " (suspended)" : ""}, ${(st.active || []).length} active`;
  }
  const pods = kind === "CronJob" ? [] : podsOwnedBy(new Set([o.metadata.uid]));
  return {
    key: `${kind}/${keyOf(o)}`,
    cls,
    data: { kind, summary },
    html: `<td>${esc(kind)}</td><td>${esc(o.metadata.name)}</td><td>${esc(o.metadata.namespace)}</td>` +
      `<td>${esc(summary)}</td><td class="bar-col">${kind === "CronJob" ? "" : bar(desired, podParts(pods))}</td>` +
      `<td>${age(o.metadata.creationTimestamp)}</td>`,
  };
}

function renderWorkloads() {
  const rows = [];
  for (const [plural, kind] of [["statefulsets", "StatefulSet"], ["daemonsets", "DaemonSet"], ["jobs", "Job"],
    ["cronjobs", "CronJob"]]) {
    for (const o of items(plural).sort(byName)) rows.push(workloadRow(kind, o));
  }
  syncRows("workloads", rows);
}

function eventTime(e) {
  return e.lastTimestamp || e.eventTime || (e.series || {}).lastObservedTime || e.firstTimestamp ||
    (e.metadata || {}).creationTimestamp;
}

function renderEvents() {
  const evs = items("events").sort((a, b) => Date.parse(eventTime(b)) - Date.parse(eventTime(a)) || byName(a, b))
    .slice(0, EVENTS_SHOWN);
  const rows = evs.map((e) => {
    const obj = e.involvedObject || e.regarding || {};
    const count = e.count > 1 ? ` (x${e.count})` : "";
    return {
      key: keyOf(e),
      cls: e.type === "Warning" ? "warning" : "",
      html: `<td>${age(eventTime(e))}</td><td>${esc(e.type)}</td><td>${esc(e.reason)}</td>` +
        `<td>${esc(`${(obj.kind || "").toLowerCase()}/${obj.name}`)}</td><td>${esc((e.message || e.note || "") + count)}</td>`,
    };
  });
  syncRows("events", rows);
}

const RENDER = {
  namespaces: [renderNamespaces],
  deployments: [renderDeployments],
  replicasets: [renderReplicaSets, renderDeployments],
  pods: [renderPods, renderReplicaSets, renderDeployments, renderNamespaces, renderWorkloads],
  statefulsets: [renderWorkloads],
  daemonsets: [renderWorkloads],
  jobs: [renderWorkloads],
  cronjobs: [renderWorkloads],
  services: [renderServices],
  ingresses: [renderIngresses],
  events: [renderEvents],
};

function render(plural) {
  for (const fn of RENDER[plural] || []) {
    const sec = $(`sec-${fn === renderNamespaces ? "namespaces" : fn.name.replace("render", "").toLowerCase()}`);
    if (sec && !state.served.has(sec.dataset.kind)) continue;
    try {
      fn();
    } catch (err) {
      console.error(err);
    }
  }
}

function renderAll() {
  for (const plural of Object.keys(RENDER)) render(plural);
}

// ------------------------------------------------------------------------------------ watching

function setConn() {
  const el = $("conn");
  const wanted = [...state.running];
  const streams = wanted.filter((p) => !(KINDS.find((k) => k.plural === p) || {}).poll);
  const up = wanted.filter((p) => state.streamsUp.has(p)).length;
  if (wanted.length && up === wanted.length) {
    el.className = "conn conn-live";
    el.textContent = "● live";
    el.title = `following ${streams.join(", ")} through watch streams; listing the others every ${POLL_MS / 1000}s`;
  } else {
    el.className = "conn conn-down";
    el.textContent = state.lastError ? "reconnecting…" : "connecting…";
    el.title = state.lastError || "";
  }
}

class Gone extends Error {}

async function reflect(kind) {
  const path = basePath(kind);
  const cache = new Map();
  state.caches[kind.plural] = cache;
  for (;;) {
    await present();
    try {
      const resp = await api(path);
      if (!resp.ok) throw new Error(`list ${kind.plural}: HTTP ${resp.status}`);
      const list = await resp.json();
      cache.clear();
      for (const obj of list.items || []) {
        cache.set(keyOf(obj), obj);
        if (kind.plural === "pods") recordPodHistory(obj, podStatus(obj));
      }
      let rv = (list.metadata || {}).resourceVersion || "0";
      render(kind.plural);
      if (kind.poll) {
        state.streamsUp.add(kind.plural);
        setConn();
        await sleep(POLL_MS);
        continue;
      }
      for (;;) {  // one watch request after another from the last resourceVersion seen
        rv = await watchOnce(kind, path, rv, cache);
      }
    } catch (err) {
      state.streamsUp.delete(kind.plural);
      if (link.away) {
        setConn();
      } else if (!(err instanceof Gone)) {
        state.lastError = String(err && err.message ? err.message : err);
        setConn();
        await sleep(1000);
      }
    }
  }
}

async function watchOnce(kind, path, rv, cache) {
  const url = `${path}?watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(rv)}`;
  const resp = await api(url);
  if (resp.status === 410) throw new Gone();
  if (!resp.ok || !resp.body) throw new Error(`watch ${kind.plural}: HTTP ${resp.status}`);
  state.streamsUp.add(kind.plural);
  state.lastError = "";
  setConn();
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      const ev = JSON.parse(line);
      const obj = ev.object || {};
      if (ev.type === "ERROR") {
        if (obj.code === 410) throw new Gone();
        throw new Error(`watch ${kind.plural}: ${obj.message || "error"}`);
      }
      rv = (obj.metadata || {}).resourceVersion || rv;
      if (ev.type === "BOOKMARK") continue;
      if (ev.type === "DELETED") {
        cache.delete(keyOf(obj));
        if (kind.plural === "pods") {
          state.podHistory.delete(keyOf(obj));
          state.podSeen.delete(keyOf(obj));
        }
      } else {
        cache.set(keyOf(obj), obj);
        if (kind.plural === "pods") recordPodHistory(obj, podStatus(obj));
      }
      render(kind.plural);  // at once, per event: a short-lived state is shown too
    }
  }
  state.streamsUp.delete(kind.plural);
  return rv;
}

async function discover() {
  const served = new Set();
  const groupVersions = new Set(KINDS.map((k) => (k.group ? `${k.group}/${k.version}` : k.version)));
  for (const gv of groupVersions) {
    const url = gv.includes("/") ? `/apis/${gv}` : `/api/${gv}`;
    try {
      const resp = await api(url);
      if (!resp.ok) continue;
      const doc = await resp.json();
      for (const r of doc.resources || []) {
        if (!r.name.includes("/") && (r.verbs || []).includes("watch")) served.add(`${gv}:${r.name}`);
      }
    } catch (err) {
      if (link.away) return false;
      state.lastError = "the API server does not answer";
      setConn();
      return false;
    }
  }
  for (const kind of KINDS) {
    const gv = kind.group ? `${kind.group}/${kind.version}` : kind.version;
    if (served.has(`${gv}:${kind.plural}`)) state.served.add(kind.plural);
  }
  return true;
}

function showSections() {
  const missing = [];
  for (const kind of KINDS) {
    if (!state.served.has(kind.plural)) missing.push(kind.plural);
  }
  for (const sec of document.querySelectorAll("section[data-kind]")) {
    sec.hidden = !state.served.has(sec.dataset.kind);
  }
  $("not-served").textContent = missing.length
    ? `Not served by this API server yet, so not shown: ${missing.join(", ")}.` : "";
}

async function main() {
  $("server").textContent = location.host;
  $("namespace").addEventListener("change", (e) => {
    state.namespace = e.target.value;
    localStorage.setItem("mkl-namespace", state.namespace);
    renderAll();
  });
  $("namespaces").addEventListener("click", (e) => {
    const chip = e.target.closest("[data-ns]");
    if (!chip) return;
    state.namespace = state.namespace === chip.dataset.ns ? "" : chip.dataset.ns;
    localStorage.setItem("mkl-namespace", state.namespace);
    renderAll();
  });
  setInterval(renderAll, 1000);  // ages tick
  window.addEventListener("pagehide", leave);
  window.addEventListener("pageshow", (e) => { if (e.persisted) comeBack(); });
  document.addEventListener("freeze", leave);
  document.addEventListener("resume", comeBack);
  document.addEventListener("visibilitychange", () => (document.hidden ? leave() : comeBack()));
  if (document.hidden) leave();
  // Discovery is polled: a kind served after an upgrade of the daemon gets its section then.
  for (;;) {
    await present();
    if (await discover()) {
      showSections();
      for (const kind of KINDS) {
        if (state.served.has(kind.plural) && !state.running.has(kind.plural)) {
          state.running.add(kind.plural);
          reflect(kind);
        }
      }
      setConn();
    }
    await sleep(state.running.size ? 15000 : 1000);
  }
}

main();
