"""kube-proxy's iptables mode for one cluster: Service traffic forwarded by the kernel (DNAT).

A Service port becomes a chain of DNAT rules that picks one ready endpoint at random (the
``statistic`` match, as kube-proxy does); the kernel's connection tracking then carries every
packet of that connection with no copy through user space. Measured on these machines
(bench/bench_networking.py): the same throughput as a direct connection to the pod, while a
Python copy loop reached about half of it and added about a millisecond per request.

Every chain is named ``MKL-<cluster id>-...`` and every rule this module adds lives in those
chains, apart from one jump per built-in chain (marked with a comment naming the cluster).
The whole set is rewritten in one ``iptables-restore --noflush`` transaction that touches only
those chains, so Docker's rules (and other clusters') are never read, changed or removed.

nat table:
  PREROUTING (from our bridge), OUTPUT -> MKL-<id>-SERVICES: clusterIP:port -> MKL-<id>-SVC-<hash>;
                         any local address (not a cluster IP) -> MKL-<id>-NODEPORTS
  PREROUTING (from elsewhere, to a local address) -> MKL-<id>-NODEPORTS
  MKL-<id>-NODEPORTS: nodePort (and a LoadBalancer's port) -> MKL-<id>-SVC-<hash>, or with
                     ``externalTrafficPolicy: Local`` -> MKL-<id>-XLB-<hash>
  MKL-<id>-SVC-<hash>: mark for masquerade, then DNAT to one endpoint
  MKL-<id>-XLB-<hash>: pods and this host -> MKL-<id>-SVC-<hash> (as kube-proxy sends them to the
                     cluster-wide chain); anyone else: DNAT to an endpoint on this machine, not
                     masqueraded (the client's address is kept); none here: no DNAT, and the
                     packet is dropped in MKL-<id>-REJECT ("has no local endpoints")
  POSTROUTING -> MKL-<id>-POSTROUTING: masquerade marked connections (pod -> its own Service
                 hairpins, and ``localhost:<nodePort>`` needs a source the pod can answer)
filter table:
  INPUT   -> MKL-<id>-REJECT: a Service port with no ready endpoint is refused at once
  FORWARD -> MKL-<id>-FORWARD: marked connections from outside the host may reach pods, and those
             a Local host port DNATed
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shlex
import shutil
from dataclasses import dataclass, field

from ..config import SERVICE_CIDR

log = logging.getLogger(__name__)

MASQ_MARK = "0x4000/0x4000"  # kube-proxy's bit: "this connection needs masquerading"


@dataclass(frozen=True)
class ServiceRule:
    """One Service port as the kernel should forward it."""

    name: str  # "namespace/service:port" (comments and the chain hash)
    protocol: str  # TCP / UDP / SCTP
    cluster_ip: str | None  # None for headless or when only host ports are served
    port: int
    endpoints: tuple[tuple[str, int], ...] = ()
    host_ports: tuple[int, ...] = field(default_factory=tuple)  # nodePort, LoadBalancer port
    # externalTrafficPolicy Local: the endpoints on this machine (None: policy Cluster)
    local_endpoints: tuple[tuple[str, int], ...] | None = None


class Chains:
    """The names of one cluster's chains (iptables allows 28 characters)."""

    def __init__(self, cluster_id: str) -> None:
        self.prefix = f"MKL-{cluster_id[:10]}"
        self.services = f"{self.prefix}-SERVICES"
        self.nodeports = f"{self.prefix}-NODEPORTS"
        self.postrouting = f"{self.prefix}-POSTROUTING"
        self.reject = f"{self.prefix}-REJECT"
        self.forward = f"{self.prefix}-FORWARD"
        self.comment = f"minikube-lite {cluster_id} services"

    def service_chain(self, rule: ServiceRule, kind: str = "SVC") -> str:
        digest = hashlib.sha256(f"{rule.name}/{rule.protocol}".encode()).hexdigest()[:8].upper()
        return f"{self.prefix}-{kind}-{digest}"

    def jumps(self, bridge: str, *, external: bool | tuple[str, ...] = True) -> list[tuple[str, str, list[str]]]:
        """(table, built-in chain, match + target) for every jump this cluster adds.

        Several clusters may run on one host, each with the same ``kubernetes`` cluster IP: in
        PREROUTING, cluster IPs apply only to packets from this cluster's bridge (its pods); from
        elsewhere only the host ports do, and only when they are exposed (``external``: True for
        every local address, ``--listen-address 0.0.0.0``; or the addresses listed, a joined
        machine's InternalIP); by default they serve this machine and its pods alone.
        Host processes (OUTPUT) get the first cluster's.
        """
        local = ["-m", "addrtype", "--dst-type", "LOCAL"]
        targets = [local] if external is True else [["-d", f"{a}/32"] for a in external or ()]
        outside = [("nat", "PREROUTING", ["!", "-i", bridge, *match, "-j", self.nodeports]) for match in targets]
        return [("nat", "PREROUTING", ["-i", bridge, "-j", self.services]), *outside,
                ("nat", "OUTPUT", ["-j", self.services]),
                ("nat", "POSTROUTING", ["-j", self.postrouting]), ("filter", "INPUT", ["-j", self.reject]),
                ("filter", "FORWARD", ["-j", self.forward])]


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def _dnat(chain: str, proto: str, endpoints: tuple[tuple[str, int], ...]) -> list[str]:
    """DNAT to one of ``endpoints`` at random (the ``statistic`` match, as kube-proxy spreads them)."""
    out, n = [], len(endpoints)
    for i, (ip, port) in enumerate(endpoints):
        chance = "" if i == n - 1 else f"-m statistic --mode random --probability {1.0 / (n - i):.11f} "
        out.append(f"-A {chain} -p {proto} {chance}-j DNAT --to-destination {ip}:{port}")
    return out


def render(chains: Chains, rules: list[ServiceRule], existing: set[str] | None = None,
           cluster_cidr: str = "") -> str:
    """The ``iptables-restore --noflush`` input that makes our chains exactly ``rules``.

    ``existing``: our chains present now; those no longer needed are deleted in the same
    transaction. ``cluster_cidr``: the pods' addresses, whose traffic to a Local host port goes
    to every endpoint (kube-proxy's local-traffic detector, ``--cluster-cidr``).
    """
    nat: list[str] = []
    svc_chains: list[str] = []
    reject: list[str] = []
    forward: list[str] = []
    for rule in sorted(rules, key=lambda r: (r.name, r.protocol)):
        proto = rule.protocol.lower()
        comment = f"-m comment --comment {_quote(rule.name)}"
        if not rule.endpoints:
            if rule.cluster_ip:
                reject.append(f"-A {chains.reject} -d {rule.cluster_ip}/32 -p {proto} --dport {rule.port} "
                              f"{comment} -j REJECT{_reject_with(proto)}")
            for hp in rule.host_ports:
                reject.append(f"-A {chains.reject} -p {proto} --dport {hp} -m addrtype --dst-type LOCAL "
                              f"{comment} -j REJECT{_reject_with(proto)}")
            continue
        chain = chains.service_chain(rule)
        svc_chains.append(chain)
        if rule.cluster_ip:
            nat.append(f"-A {chains.services} -d {rule.cluster_ip}/32 -p {proto} --dport {rule.port} "
                       f"{comment} -j {chain}")
        external = chain
        if rule.local_endpoints is not None and rule.host_ports:
            external = chains.service_chain(rule, "XLB")
            svc_chains.append(external)
            if cluster_cidr:
                nat.append(f"-A {external} -s {cluster_cidr} {comment} -j {chain}")
            nat.append(f"-A {external} -m addrtype --src-type LOCAL {comment} -j {chain}")
            nat += _dnat(external, proto, rule.local_endpoints)
            for hp in rule.host_ports:
                if rule.local_endpoints:  # Docker's FORWARD drops what is not marked: these may pass
                    forward.append(f"-A {chains.forward} -m conntrack --ctstate DNAT --ctproto {proto} "
                                   f"--ctorigdstport {hp} {comment} -j ACCEPT")
                else:
                    reject.append(f"-A {chains.reject} -p {proto} --dport {hp} -m addrtype --dst-type LOCAL "
                                  f'-m comment --comment {_quote(rule.name + " has no local endpoints")} -j DROP')
        for hp in rule.host_ports:
            nat.append(f"-A {chains.nodeports} -p {proto} --dport {hp} {comment} -j {external}")
        nat.append(f"-A {chain} -j MARK --set-xmark {MASQ_MARK}")
        nat += _dnat(chain, proto, rule.endpoints)
    nat.append(f"-A {chains.services} ! -d {SERVICE_CIDR} -m addrtype --dst-type LOCAL -j {chains.nodeports}")
    nat.append(f"-A {chains.postrouting} -m mark --mark {MASQ_MARK} -j MASQUERADE")

    wanted_nat = [chains.services, chains.nodeports, chains.postrouting, *svc_chains]
    stale = sorted((existing or set()) - set(wanted_nat) - {chains.reject, chains.forward})
    out = ["*nat"]
    out += [f":{c} - [0:0]" for c in wanted_nat + stale]
    out += nat
    out += [f"-X {c}" for c in stale]
    out += ["COMMIT", "*filter", f":{chains.reject} - [0:0]", f":{chains.forward} - [0:0]"]
    out += reject
    out.append(f"-A {chains.forward} -m mark --mark {MASQ_MARK} -j ACCEPT")
    out += forward
    out += ["COMMIT", ""]
    return "\n".join(out)


def _reject_with(proto: str) -> str:
    return " --reject-with tcp-reset" if proto == "tcp" else ""


async def _run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(stdin.encode() if stdin is not None else None)
    return proc.returncode or 0, out.decode(errors="replace")


def available() -> bool:
    return shutil.which("iptables") is not None and shutil.which("iptables-restore") is not None


class IPTables:
    """Applies and removes one cluster's chains."""

    def __init__(self, cluster_id: str, *, external: bool | tuple[str, ...] = False, cluster_cidr: str = "") -> None:
        self.chains = Chains(cluster_id)
        self.external = external
        self.cluster_cidr = cluster_cidr

    async def our_chains(self) -> set[str]:
        found: set[str] = set()
        for table in ("nat", "filter"):
            code, out = await _run("iptables", "-w", "-t", table, "-S")
            if code != 0:
                raise OSError(f"iptables -t {table} -S failed: {out.strip()}")
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "-N" and parts[1].startswith(self.chains.prefix + "-"):
                    found.add(parts[1])
        return found

    async def sync(self, rules: list[ServiceRule], bridge: str) -> None:
        """Rewrite our chains to ``rules`` (one transaction), then make sure the jumps exist."""
        text = render(self.chains, rules, await self.our_chains(), self.cluster_cidr)
        code, out = await _run("iptables-restore", "-w", "--noflush", stdin=text)
        if code != 0:
            raise OSError(f"iptables-restore failed: {out.strip()}")
        await self._ensure_jumps(bridge)

    async def _ensure_jumps(self, bridge: str) -> None:
        for table, builtin, rule in reversed(self.chains.jumps(bridge, external=self.external)):
            spec = ["-m", "comment", "--comment", self.chains.comment, *rule]
            code, _ = await _run("iptables", "-w", "-t", table, "-C", builtin, *spec)
            if code != 0:
                code, out = await _run("iptables", "-w", "-t", table, "-I", builtin, "1", *spec)
                if code != 0:
                    raise OSError(f"iptables -t {table} -I {builtin} failed: {out.strip()}")

    async def remove(self) -> None:
        """Delete our jumps and chains; nothing else is touched. Safe to call when absent."""
        marker = f'--comment "{self.chains.comment}"'
        for table, builtin in (("nat", "PREROUTING"), ("nat", "OUTPUT"), ("nat", "POSTROUTING"),
                               ("filter", "INPUT"), ("filter", "FORWARD")):
            code, out = await _run("iptables", "-w", "-t", table, "-S", builtin)
            for line in out.splitlines() if code == 0 else []:
                if marker in line and line.startswith(f"-A {builtin} "):
                    await _run("iptables", "-w", "-t", table, "-D", builtin, *shlex.split(line)[2:])
        try:
            chains = await self.our_chains()
        except OSError as exc:
            log.warning("could not list iptables chains: %s", exc)
            return
        filter_chains = {self.chains.reject, self.chains.forward}
        for table in ("nat", "filter"):
            mine = [c for c in chains if (c in filter_chains) == (table == "filter")]
            for c in mine:
                await _run("iptables", "-w", "-t", table, "-F", c)
            for c in mine:
                await _run("iptables", "-w", "-t", table, "-X", c)
