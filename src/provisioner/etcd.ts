/**
 * kaas's own etcd membership client, for replacing masters without losing quorum: list, add and
 * remove members over etcd's v3 JSON gateway (`POST /v3/cluster/member/{list,add,remove}`) and read
 * each member's `/health`, authenticating with a short-lived client certificate kaas signs from the
 * cluster's etcd CA (material.ts). Removal and addition are refused up front when another member is
 * unhealthy or when the change would leave the cluster without a quorum, because etcd itself
 * accepts some such changes and a cluster without quorum cannot be repaired from outside.
 */
import { Agent, request } from 'undici';
import { issueClientCert, type KeyPair } from '../auth/pki.ts';
import { ConflictError, UpstreamError } from '../errors.ts';

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

/** What {@link createEtcdClient} needs. */
export interface EtcdClientOptions {
  /** Client URLs (`https://host:2379`) tried in order; any member answers membership calls. */
  endpoints: readonly string[];
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
  /** Removes member `id` when that keeps quorum; absent already: nothing to do. */
  removeMember(id: string): Promise<{ removed: boolean }>;
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

/** Creates a client; the client certificate (CN `kaas`, one day) is signed on first use. */
export function createEtcdClient(options: EtcdClientOptions): EtcdClient {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const notReadyAttempts = options.notReadyAttempts ?? 15;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let agent: Promise<Agent> | undefined;
  // Signed on first use; a failed signing is not cached, so the next call tries again.
  const dispatcher = () =>
    (agent ??= issueClientCert({
      ca: options.etcdCa,
      commonName: 'kaas',
      organization: 'kaas',
      days: 1,
    }).then(
      (leaf) =>
        new Agent({
          connect: { ca: options.etcdCa.certPem, cert: leaf.certPem, key: leaf.keyPem, timeout: timeoutMs },
        }),
      (error: unknown) => {
        agent = undefined;
        throw error;
      },
    ));

  async function call(url: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await request(url, {
      method: body === undefined ? 'GET' : 'POST',
      dispatcher: await dispatcher(),
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

  /** POSTs to the first endpoint that answers; etcd forwards membership changes to its leader. */
  async function cluster(path: string, body: unknown): Promise<Record<string, unknown>> {
    const failures: string[] = [];
    for (const endpoint of options.endpoints) {
      let res: { status: number; json: unknown };
      try {
        res = await call(`${endpoint.replace(/\/+$/, '')}${path}`, body);
      } catch (error) {
        failures.push(`${endpoint}: ${(error as Error).message}`);
        continue;
      }
      if (res.status === 200) return res.json as Record<string, unknown>;
      const message = (res.json as { message?: string; error?: string }).message ?? JSON.stringify(res.json);
      throw new UpstreamError(`etcd ${path} at ${endpoint} answered ${res.status}: ${message}`, {
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
  async function reconfigure(path: string, body: unknown): Promise<Record<string, unknown>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await cluster(path, body);
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

  async function healthOf(m: EtcdMember): Promise<EtcdMemberHealth> {
    const url = m.clientUrls[0];
    if (m.name === '' || url === undefined) return { ...m, healthy: false, reason: 'not started' };
    try {
      const res = await call(`${url.replace(/\/+$/, '')}/health`);
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
      await reconfigure('/v3/cluster/member/remove', { ID: id });
      return { removed: true };
    },
    async close() {
      const pending = agent;
      agent = undefined;
      await (await pending?.catch(() => undefined))?.close();
    },
  };
}
