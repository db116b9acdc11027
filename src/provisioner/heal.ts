/**
 * Auto-healing, run by the job workers of `kaas dev` and `kaas serve` beside their jobs: every
 * `pollMs` it looks at each ready cluster's Nodes through the cluster's API as kaas, remembers in
 * the database since when each Node has been not Ready (a restart does not reset the clock), lets
 * decideHeal (src/cluster/heal.ts) judge (asking etcd first when a master is due), and acts only
 * through jobs: a replacement is a `heal` job (planHeal, planHealMaster), queued under the same one-job-per-cluster lock as resize and upgrade, so the healer
 * and a user's operation never run at once, and a queued or running job makes the healer wait.
 * A heal job killed mid-way resumes like any job; nothing is queued twice, since the lock refuses a
 * second job and a replacement is planned from the servers that exist. A failed heal job is retried
 * once; failing again, healing stops on that cluster until a person retries it.
 *
 * Every action (replace, retry, stop) is an audit entry by `kaas-healer` and an event of the heal
 * job; the cluster's AutoHeal condition (getCluster's `conditions`) says what healing does now.
 * Failures are logged and recorded in the condition, never thrown.
 */
import { decideHeal, type HealCondition, type HealInput } from '../cluster/heal.ts';
import type { ClusterSpec } from '../cluster/spec.ts';
import { ConflictError } from '../errors.ts';
import { checkMembershipChange, type EtcdMemberHealth } from './etcd.ts';
import type { Logger } from '../log.ts';
import type { Db } from '../store/db.ts';
import { findHealStatus } from '../store/findHealStatus.ts';
import type { JobRecord } from '../store/findJob.ts';
import { listJobs } from '../store/listJobs.ts';
import { listNodeHealth } from '../store/listNodeHealth.ts';
import { listProvisionedClusters } from '../store/listProvisionedClusters.ts';
import { replaceNodeHealth } from '../store/replaceNodeHealth.ts';
import { upsertHealStatus } from '../store/upsertHealStatus.ts';
import type { NodeState } from './kubeclient.ts';

/** How often each cluster's Nodes are looked at unless configured. */
export const DEFAULT_HEAL_POLL_SECONDS = 10;

/** The node a heal job replaces (group `masters`: a master). */
export interface HealTarget {
  group: string;
  node: string;
}

/** Dependencies of {@link createHealer}. */
export interface HealerDeps {
  db: Db;
  logger: Logger;
  now: () => Date;
  /** Time between two looks at one cluster. */
  pollMs: number;
  /** The cluster's Nodes as its API reports them now; throws when kaas cannot read them. */
  nodes(clusterId: string): Promise<NodeState[]>;
  /** The cluster's etcd members and their health, reached through `masters`; throws when unreadable. */
  etcd(clusterId: string, masters: readonly string[]): Promise<EtcdMemberHealth[]>;
  /** Queues the heal job (with its event and audit entry); undefined when the server is gone. */
  replace(clusterId: string, target: HealTarget, why: string): Promise<JobRecord | undefined>;
  /** Re-queues a failed heal job (with its event and audit entry). */
  retry(clusterId: string, jobId: string, why: string): Promise<void>;
  /** Records that healing stopped on the cluster (audit entry). */
  stopped(clusterId: string, details: Record<string, unknown>): Promise<void>;
}

/** What one look at a cluster did. */
export interface HealOutcome {
  clusterId: string;
  /** `waiting`: a job is queued or running; `skipped`: the cluster is not the healer's to look at. */
  action: 'none' | 'replace' | 'retry' | 'waiting' | 'skipped' | 'unobserved';
  condition?: HealCondition;
  jobId?: string;
}

/** The healer a worker loop polls. */
export interface Healer {
  /** Looks at every cluster due (last look `pollMs` ago or more); one at a time. */
  pass(): Promise<HealOutcome[]>;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Whether two maps of Node name to time hold the same entries. */
function sameRecords(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Creates the healer; several replicas may run one against the same database. */
export function createHealer(deps: HealerDeps): Healer {
  const log = deps.logger.child({ healer: true });
  const lastLook = new Map<string, number>();

  /**
   * Records the condition when it or the retried job differs from `before` (the record this pass
   * read): a pass that changes nothing writes nothing. A new reason or status is logged, and a stop
   * is audited.
   */
  async function record(
    clusterId: string,
    condition: HealCondition,
    retriedJob: string | null,
    before: Awaited<ReturnType<typeof findHealStatus>>,
  ) {
    const same =
      before &&
      before.condition.reason === condition.reason &&
      before.condition.status === condition.status &&
      before.condition.message === condition.message &&
      before.retriedJob === retriedJob;
    if (same) return;
    const at = deps.now().toISOString();
    const changed =
      !before || before.condition.reason !== condition.reason || before.condition.status !== condition.status;
    await upsertHealStatus({
      db: deps.db,
      clusterId,
      status: { condition, changedAt: changed ? at : before.changedAt, checkedAt: at, retriedJob },
    });
    if (!changed) return;
    const entry = { clusterId, reason: condition.reason, message: condition.message };
    if (condition.status === 'False') {
      log.warn(entry, 'auto-healing stopped');
      await deps.stopped(clusterId, { reason: condition.reason, message: condition.message });
    } else log.info(entry, 'auto-healing condition');
  }

  /**
   * Why master `node`'s etcd member may not be replaced now (undefined: it may): etcd unreadable, or
   * the membership change refused (src/provisioner/etcd.ts: every other member healthy, quorum kept
   * without it). The heal job's etcd steps check again when they run.
   */
  async function etcdRefusal(clusterId: string, node: string, masters: string[]) {
    let health: EtcdMemberHealth[];
    try {
      health = await deps.etcd(clusterId, masters);
    } catch (error) {
      return `kaas cannot read the cluster's etcd: ${messageOf(error)}`;
    }
    const member = health.find((m) => m.name === node);
    try {
      checkMembershipChange(health, member ? { remove: member.id } : { add: `a replacement of ${node}` });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return error.message;
    }
    return undefined;
  }

  async function look(cluster: { id: string; status: string; spec: unknown }): Promise<HealOutcome> {
    const clusterId = cluster.id;
    const [last] = await listJobs({ db: deps.db, clusterId });
    if (last && (last.state === 'queued' || last.state === 'running'))
      return { clusterId, action: 'waiting' };
    const failedHeal = cluster.status === 'failed' && last?.kind === 'heal' && last.state === 'failed';
    if (cluster.status !== 'ready' && !failedHeal) return { clusterId, action: 'skipped' };
    const status = await findHealStatus({ db: deps.db, clusterId });
    let nodes: NodeState[];
    try {
      nodes = await deps.nodes(clusterId);
    } catch (error) {
      // The clock of each Node stays as it was: nothing is known about them now.
      const condition: HealCondition = {
        type: 'AutoHeal',
        status: 'True',
        reason: 'Unobserved',
        message: `kaas cannot read the cluster's Nodes: ${messageOf(error)}`,
      };
      await record(clusterId, condition, status?.retriedJob ?? null, status);
      return { clusterId, action: 'unobserved', condition };
    }
    const target = failedHeal ? (last.input as { heal?: HealTarget }).heal : undefined;
    const since = await listNodeHealth({ db: deps.db, clusterId });
    const input: HealInput = {
      spec: cluster.spec as ClusterSpec,
      nodes,
      since,
      now: deps.now(),
      ...(failedHeal && last
        ? {
            failedHeal: {
              jobId: last.id,
              node: target?.node ?? 'an unknown node',
              retried: status?.retriedJob === last.id,
            },
          }
        : {}),
    };
    let decision = decideHeal(input);
    if (decision.askEtcd) {
      const { node, masters } = decision.askEtcd;
      const blocked = await etcdRefusal(clusterId, node, masters);
      decision = decideHeal({ ...input, etcd: { node, ...(blocked === undefined ? {} : { blocked }) } });
    }
    if (!sameRecords(since, decision.since)) {
      await replaceNodeHealth({ db: deps.db, clusterId, since: decision.since });
    }
    let retriedJob = status?.retriedJob ?? null;
    const outcome: HealOutcome = { clusterId, action: 'none', condition: decision.condition };
    try {
      if (decision.retry) {
        const why = `auto-heal: retrying the failed replacement of ${decision.retry.node} once`;
        await deps.retry(clusterId, decision.retry.jobId, why);
        retriedJob = decision.retry.jobId;
        Object.assign(outcome, { action: 'retry', jobId: decision.retry.jobId });
        log.warn({ clusterId, jobId: decision.retry.jobId }, why);
      } else if (decision.replace) {
        const { group, node, since } = decision.replace;
        const why = `auto-heal: node ${node} of group ${group} not Ready since ${since}: replacing it`;
        const job = await deps.replace(clusterId, { group, node }, why);
        if (job) {
          Object.assign(outcome, { action: 'replace', jobId: job.id });
          log.warn({ clusterId, jobId: job.id, node }, why);
        } else {
          // A Node left behind by a server deleted outside kaas: nothing kaas can replace.
          outcome.condition = {
            type: 'AutoHeal',
            status: 'False',
            reason: 'ServerMissing',
            message: `node ${node} of group ${group} is not Ready and has no server: nothing to replace (delete the Node object if its server is gone for good)`,
          };
        }
      }
    } catch (error) {
      // Another replica or a user's operation went first: the next look sees its job.
      if (!(error instanceof ConflictError)) throw error;
      log.info({ clusterId, err: error }, 'auto-heal: the cluster is busy, not acting now');
    }
    await record(clusterId, outcome.condition ?? decision.condition, retriedJob, status);
    return outcome;
  }

  return {
    async pass() {
      const outcomes: HealOutcome[] = [];
      const now = deps.now().getTime();
      for (const cluster of await listProvisionedClusters({ db: deps.db })) {
        if (now - (lastLook.get(cluster.id) ?? -Infinity) < deps.pollMs) continue;
        lastLook.set(cluster.id, now);
        try {
          outcomes.push(await look(cluster));
        } catch (error) {
          log.error({ clusterId: cluster.id, err: error }, 'auto-heal: looking at the cluster failed');
        }
      }
      return outcomes;
    },
  };
}
