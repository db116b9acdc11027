/**
 * kaas's own etcd membership client, for replacing masters without losing quorum: list, add and
 * remove members over etcd's v3 JSON gateway (`POST /v3/cluster/member/{list,add,remove}`) and read
 * each member's `/health`, authenticating with a short-lived client certificate kaas signs from the
 * cluster's etcd CA (material.ts). Removal and addition are refused up front when another member is
 * unhealthy or when the change would leave the cluster without a quorum, because etcd itself
 * accepts some such changes and a cluster without quorum cannot be repaired from outside.
 */
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Agent, request, type buildConnector, type Dispatcher } from 'undici';
import { issueClientCert, type KeyPair } from '../auth/pki.ts';
import { ConflictError, InputError, UpstreamError } from '../errors.ts';

/** One member as etcd lists it; a member added but not yet started has no name and no client URLs. */
export interface EtcdMember {
  /** uint64 as a decimal string (the JSON gateway's encoding). */
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** A member with its health as kaas saw it just now. */
export interface EtcdMemberHealth extends EtcdMember {
  healthy: boolean;
  /** Why it is not healthy (not started, unreachable, etcd's own reason). */
  reason?: string;
}

/**
 * How to reach members by name instead of by URL, when kaas has no network path to their client
 * port (etcdroute.ts: a port-forward through the cluster's API). Each member is dialled through its
 * own stream, so its health is its own; TLS runs inside the stream and the member's serving
 * certificate must name it (kubeadm's `etcd/server` certificate carries the node name).
 */
export interface EtcdTunnel {
  /** Member names kaas may dial, tried in this order for membership calls. */
  members: readonly string[];
  /** A byte stream to member `name`'s client port; rejects with a domain error saying why not. */
  open(name: string): Promise<Duplex>;
}

/** What {@link createEtcdClient} needs: `endpoints` or `tunnel`. */
export interface EtcdClientOptions {
  /** Client URLs (`https://host:2379`) tried in order; any member answers membership calls. */
  endpoints?: readonly string[];
  /** Instead of `endpoints`: members reached by name through streams kaas opens. */
  tunnel?: EtcdTunnel;
  /** The cluster's etcd CA: verifies the members' serving certificates and signs kaas's client one. */
  etcdCa: KeyPair;
  /** Per-request timeout; default 5 s. */
  timeoutMs?: number;
  /** Tries of a membership change etcd is not ready for, one second apart; default 15. */
  notReadyAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** The client returned by {@link createEtcdClient}. */
export interface EtcdClient {
  members(): Promise<EtcdMember[]>;
  /** Every member with its `/health` (a member not yet started is unhealthy). */
  health(): Promise<EtcdMemberHealth[]>;
  /** Adds a voting member at `peerUrl` (idempotent: an existing member with that URL is returned). */
  addMember(peerUrl: string): Promise<EtcdMember>;
  /**
   * Removes member `id` when that keeps quorum; absent already: nothing to do. A leader being
   * removed first hands its leadership to a healthy voter (named in `leaderMovedTo`).
   */
  removeMember(id: string): Promise<{ removed: boolean; leaderMovedTo?: string }>;
  close(): Promise<void>;
}

/** Votes needed for a cluster of `n` voting members. */
export function quorumOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Whether a membership change is safe, from the members' health: every member other than the one
 * removed must be healthy (a cluster already short of a member must be repaired first), and the
 * healthy voters left must reach the quorum of the new membership. Throws ConflictError
 * (`etcd_member_unhealthy`, `etcd_quorum_loss`) naming the members.
 */
export function checkMembershipChange(
  members: readonly EtcdMemberHealth[],
  change: { remove: string } | { add: string },
): void {
  const removing = 'remove' in change ? change.remove : undefined;
  const others = members.filter((m) => m.id !== removing);
  const sick = others.filter((m) => !m.healthy);
  if (sick.length > 0) {
    throw new ConflictError(
      `etcd member(s) ${sick.map((m) => `${m.name || m.id} (${m.reason ?? 'unhealthy'})`).join(', ')} not healthy: kaas changes etcd membership only when every other member is healthy; repair or remove them first`,
      { code: 'etcd_member_unhealthy' },
    );
  }
  const voters = others.filter((m) => !m.isLearner).length;
  // An added member votes before it has started: until then the others alone must reach quorum.
  const after = removing === undefined ? voters + 1 : voters;
  if (after === 0 || voters < quorumOf(after)) {
    throw new ConflictError(
      removing === undefined
        ? `adding an etcd member to ${voters} voting member(s) would need ${quorumOf(after)} of them up before it starts; refused to keep quorum`
        : `removing etcd member ${removing} would leave ${voters} voting member(s), no quorum; refused`,
      { code: 'etcd_quorum_loss' },
    );
  }
}

interface RawMember {
  ID?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

function member(raw: RawMember): EtcdMember {
  return {
    id: String(raw.ID ?? ''),
    name: raw.name ?? '',
    peerUrls: raw.peerURLs ?? [],
    clientUrls: raw.clientURLs ?? [],
    isLearner: raw.isLearner ?? false,
  };
}

/** Where a request goes: a URL and the dispatcher that reaches it. */
interface Target {
  /** How errors name it: the endpoint URL, or the member name. */
  label: string;
  url: string;
  dispatcher: () => Promise<Dispatcher>;
}

/** Creates a client; the client certificate (CN `kaas`, one day) is signed on first use. */
export function createEtcdClient(options: EtcdClientOptions): EtcdClient {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const notReadyAttempts = options.notReadyAttempts ?? 15;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { tunnel } = options;
  if ((tunnel ? tunnel.members : (options.endpoints ?? [])).length === 0) {
    throw new InputError('an etcd client needs at least one endpoint or tunnelled member', {
      field: tunnel ? 'tunnel.members' : 'endpoints',
    });
  }
  let leaf: Promise<KeyPair> | undefined;
  // Signed on first use; a failed signing is not cached, so the next call tries again.
  const clientCert = () =>
    (leaf ??= issueClientCert({
      ca: options.etcdCa,
      commonName: 'kaas',
      organization: 'kaas',
      days: 1,
    }).catch((error: unknown) => {
      leaf = undefined;
      throw error;
    }));
  const agents = new Map<string, Agent>();
  /** One agent per key (all endpoints share one; each tunnelled member has its own). */
  const agentFor = async (key: string, make: (cert: KeyPair) => Agent): Promise<Agent> => {
    const cert = await clientCert();
    let agent = agents.get(key);
    if (!agent) agents.set(key, (agent = make(cert)));
    return agent;
  };
  const direct = (url: string): Target => ({
    label: url,
    url,
    dispatcher: () =>
      agentFor(
        '',
        (cert) =>
          new Agent({
            connect: { ca: options.etcdCa.certPem, cert: cert.certPem, key: cert.keyPem, timeout: timeoutMs },
          }),
      ),
  });
  const tunnelled = (t: EtcdTunnel, name: string): Target => ({
    label: name,
    // Only names the connection pool; the tunnel decides where bytes go.
    url: `https://${name}:2379`,
    dispatcher: () =>
      agentFor(
        name,
        (cert) => new Agent({ connect: tunnelConnector(t, name, options.etcdCa, cert, timeoutMs) }),
      ),
  });
  const targets: Target[] = tunnel
    ? tunnel.members.map((name) => tunnelled(tunnel, name))
    : (options.endpoints ?? []).map((e) => direct(e.replace(/\/+$/, '')));

  async function call(
    target: Target,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const res = await request(`${target.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      dispatcher: await target.dispatcher(),
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = { message: text.slice(0, 200) };
    }
    return { status: res.statusCode, json };
  }

  /**
   * POSTs to the first endpoint that answers; etcd forwards membership changes to its leader. The
   * endpoint at URL `last`, if any, is asked only after all others.
   */
  async function cluster(path: string, body: unknown, last?: string): Promise<Record<string, unknown>> {
    const failures: string[] = [];
    const order = [...targets.filter((t) => t.url !== last), ...targets.filter((t) => t.url === last)];
    for (const target of order) {
      let res: { status: number; json: unknown };
      try {
        res = await call(target, path, body);
      } catch (error) {
        failures.push(`${target.label}: ${(error as Error).message}`);
        continue;
      }
      if (res.status === 200) return res.json as Record<string, unknown>;
      const message = (res.json as { message?: string; error?: string }).message ?? JSON.stringify(res.json);
      throw new UpstreamError(`etcd ${path} at ${target.label} answered ${res.status}: ${message}`, {
        code: /unhealthy cluster/.test(message) ? 'etcd_not_ready' : 'etcd_error',
      });
    }
    throw new UpstreamError(`no etcd endpoint answered ${path}: ${failures.join('; ')}`, {
      code: 'etcd_unreachable',
    });
  }

  /**
   * A membership change, retried while etcd answers "unhealthy cluster": it refuses
   * reconfiguration until every member it counts on has been connected for its health interval
   * (5 s), which is the case right after a member (re)started.
   */
  async function reconfigure(path: string, body: unknown, last?: string): Promise<Record<string, unknown>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await cluster(path, body, last);
      } catch (error) {
        if ((error as { code?: string }).code !== 'etcd_not_ready' || attempt >= notReadyAttempts)
          throw error;
        await sleep(1_000);
      }
    }
  }

  async function members(): Promise<EtcdMember[]> {
    const out = await cluster('/v3/cluster/member/list', {});
    return ((out['members'] ?? []) as RawMember[]).map(member);
  }

  /** Where member `m`'s own health is read: its client URL, or its own tunnel. */
  function targetOf(m: EtcdMember): Target | string {
    if (tunnel) {
      return tunnel.members.includes(m.name)
        ? tunnelled(tunnel, m.name)
        : `no route: ${m.name} is not one of the masters kaas may dial`;
    }
    const url = m.clientUrls[0];
    return url === undefined ? 'no client URL' : direct(url.replace(/\/+$/, ''));
  }

  async function healthOf(m: EtcdMember): Promise<EtcdMemberHealth> {
    if (m.name === '' || m.clientUrls.length === 0) return { ...m, healthy: false, reason: 'not started' };
    const target = targetOf(m);
    if (typeof target === 'string') return { ...m, healthy: false, reason: target };
    try {
      const res = await call(target, '/health');
      const body = res.json as { health?: string; reason?: string };
      if (res.status === 200 && body.health === 'true') return { ...m, healthy: true };
      return { ...m, healthy: false, reason: body.reason || `health answered ${res.status}` };
    } catch (error) {
      return { ...m, healthy: false, reason: `unreachable: ${(error as Error).message}` };
    }
  }

  async function health(): Promise<EtcdMemberHealth[]> {
    return Promise.all((await members()).map(healthOf));
  }

  /**
   * When the member about to be removed leads, asks it to hand leadership to a healthy voter first
   * (etcd serves MoveLeader only on the leader), so its removal costs the cluster no election and
   * no window without a leader. A member kaas cannot dial is left to etcd's own step-down.
   */
  async function handOverLeadership(
    now: readonly EtcdMemberHealth[],
    id: string,
  ): Promise<string | undefined> {
    const leaving = now.find((m) => m.id === id);
    const target = leaving?.healthy ? targetOf(leaving) : undefined;
    if (target === undefined || typeof target === 'string') return undefined;
    const status = await call(target, '/v3/maintenance/status', {});
    if (String((status.json as { leader?: unknown }).leader ?? '') !== id) return undefined;
    const to = now.find((m) => m.id !== id && m.healthy && !m.isLearner);
    if (!to) return undefined;
    const res = await call(target, '/v3/maintenance/transfer-leadership', { targetID: to.id });
    if (res.status !== 200) {
      const message = (res.json as { message?: string }).message ?? JSON.stringify(res.json);
      throw new UpstreamError(
        `etcd leader ${leaving?.name || id} did not hand leadership to ${to.name}: ${res.status} ${message}`,
        { code: 'etcd_error' },
      );
    }
    return to.name;
  }

  return {
    members,
    health,
    async addMember(peerUrl) {
      const now = await health();
      const existing = now.find((m) => m.peerUrls.includes(peerUrl));
      if (existing) return existing;
      checkMembershipChange(now, { add: peerUrl });
      const out = await reconfigure('/v3/cluster/member/add', { peerURLs: [peerUrl], isLearner: false });
      return member((out['member'] ?? {}) as RawMember);
    },
    async removeMember(id) {
      const now = await health();
      if (!now.some((m) => m.id === id)) return { removed: false };
      checkMembershipChange(now, { remove: id });
      const leaderMovedTo = await handOverLeadership(now, id);
      // Asked through the member that leaves, etcd stops it before it answers (503 "server
      // stopped", the removal done): ask through the others first.
      const leaving = now.find((m) => m.id === id);
      const own = leaving ? targetOf(leaving) : undefined;
      await reconfigure(
        '/v3/cluster/member/remove',
        { ID: id },
        typeof own === 'object' ? own.url : undefined,
      );
      return { removed: true, ...(leaderMovedTo ? { leaderMovedTo } : {}) };
    },
    async close() {
      const open = [...agents.values()];
      agents.clear();
      await Promise.all(open.map((a) => a.close()));
    },
  };
}

/**
 * An undici connector that opens member `name`'s tunnel and runs TLS inside it: the member must
 * present a serving certificate from the etcd CA naming it, kaas presents its client certificate.
 * The handshake is bounded by `timeoutMs` as a direct connection is; a tunnel that fails reports
 * its own error.
 */
function tunnelConnector(
  tunnel: EtcdTunnel,
  name: string,
  etcdCa: KeyPair,
  cert: KeyPair,
  timeoutMs: number,
): buildConnector.connector {
  return (_options, callback) => {
    let done = false;
    let stream: Duplex | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error: Error | null, socket?: TLSSocket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (socket) return callback(null, socket);
      stream?.destroy();
      callback(error ?? new Error('no socket'), null);
    };
    // Opening the tunnel is bounded by the tunnel itself (and says why it failed); this bounds the
    // TLS handshake inside it, which a member that accepts and never answers would hold forever.
    tunnel.open(name).then(
      (opened) => {
        stream = opened;
        if (done) return void opened.destroy();
        timer = setTimeout(
          () =>
            finish(
              new UpstreamError(
                `etcd member ${name}: no TLS session through its tunnel within ${timeoutMs} ms`,
                { code: 'etcd_unreachable' },
              ),
            ),
          timeoutMs,
        );
        // The tunnel's own error (e.g. the pod's end refused) says more than TLS's "socket closed".
        let tunnelError: Error | undefined;
        opened.on('error', (error: Error) => {
          tunnelError ??= error;
          finish(error);
        });
        const socket = tlsConnect({
          socket: opened,
          servername: name,
          ca: etcdCa.certPem,
          cert: cert.certPem,
          key: cert.keyPem,
        });
        const failed = (error: Error) => finish(tunnelError ?? error);
        socket.on('error', failed);
        socket.once('secureConnect', () => {
          socket.off('error', failed);
          finish(null, socket);
        });
      },
      (error: Error) => finish(error),
    );
  };
}
