/**
 * Auto-healing decided as data: from a cluster's spec, its Nodes' Ready conditions as observed and
 * what kaas remembers (since when each Node has been unhealthy, whether a failed replacement was
 * retried), which one node to replace now, which failed replacement to retry, and the condition the
 * cluster reports. Pure: the healer (src/provisioner/heal.ts) observes, stores and acts.
 *
 * As Cluster API's MachineHealthCheck: a Node whose Ready condition is False or Unknown (or absent)
 * for longer than its group's `unhealthyAfterSeconds` is replaced, unless more than the group's
 * `maxUnhealthyPercent` of it is unhealthy at once (a network partition or a broken image is not
 * mended by replacing servers). A replacement job that fails is retried once; failing again, it
 * stops healing on the cluster until a person retries it. One replacement per cluster at a time.
 *
 * Masters (after the spec's `masterUnhealthyAfterSeconds`) only as etcd allows: with three, one at
 * a time, only while it is the only master not Ready, and only once etcd says the other members are
 * healthy (the decision asks for that with `askEtcd` and is made again with the answer in `etcd`);
 * a single master never, since its etcd member is the cluster's only one.
 */
import { MASTERS_GROUP, nodeGroupOf } from './nodegroup.ts';
import type { ClusterSpec, NodeGroup } from './spec.ts';

/** What a group gets when its spec does not say. */
export const HEAL_DEFAULTS = { unhealthyAfterSeconds: 300, maxUnhealthyPercent: 40 } as const;
/** Masters a cluster needs to replace one while keeping etcd quorum with the other two. */
export const MIN_HEALED_MASTERS = 3;
/** Replacements of one Node (the first run and one retry) before healing gives up on it. */
export const MAX_HEAL_ATTEMPTS = 2;

/** How one node group is healed. */
export interface HealPolicy {
  enabled: boolean;
  unhealthyAfterMs: number;
  maxUnhealthyPercent: number;
}

/** The group's policy: off when the cluster's or the group's switch is off; defaults filled in. */
export function healPolicy(spec: Pick<ClusterSpec, 'autoHeal'>, group: NodeGroup): HealPolicy {
  return {
    enabled: spec.autoHeal !== false && group.autoHeal !== false,
    unhealthyAfterMs: (group.unhealthyAfterSeconds ?? HEAL_DEFAULTS.unhealthyAfterSeconds) * 1000,
    maxUnhealthyPercent: group.maxUnhealthyPercent ?? HEAL_DEFAULTS.maxUnhealthyPercent,
  };
}

/** A Node as healing sees it. */
export interface HealNode {
  name: string;
  ready: boolean;
  /** Why it is not Ready (the condition's reason), for messages. */
  reason?: string;
  labels: Readonly<Record<string, string>>;
}

/** Why the cluster's `AutoHeal` condition is what it is. */
export type HealReason =
  | 'Healthy'
  | 'Disabled'
  | 'Unobserved'
  | 'Waiting'
  | 'Replacing'
  | 'TooManyUnhealthy'
  | 'ReplacementFailed'
  | 'ServerMissing'
  | 'SingleMaster'
  | 'EtcdAtRisk';

/** The cluster's auto-healing condition; status False means healing stopped and a person must look. */
export interface HealCondition {
  type: 'AutoHeal';
  status: 'True' | 'False';
  reason: HealReason;
  message: string;
}

/** Input of {@link decideHeal}. */
export interface HealInput {
  spec: Pick<ClusterSpec, 'name' | 'nodeGroups' | 'autoHeal' | 'masters' | 'masterUnhealthyAfterSeconds'>;
  nodes: readonly HealNode[];
  /** Since when (ISO time) each Node has been seen not Ready, as last recorded. */
  since: Readonly<Record<string, string>>;
  now: Date;
  /** The cluster's last job, when it is a heal job that failed; `retried` when it already was once. */
  failedHeal?: { jobId: string; node: string; retried: boolean };
  /** etcd's answer for master `node` (the decision's `askEtcd`): `blocked` says why its member may not go. */
  etcd?: { node: string; blocked?: string };
}

/** What the healer does now. */
export interface HealDecision {
  /** Every Node not Ready now, with since when (kept from `since`, else now); the rest forgotten. */
  since: Record<string, string>;
  /** Queue a replacement of this node (group `masters`: a master). */
  replace?: { group: string; node: string; since: string };
  /** Master `node` is due: decide again with etcd's answer on it, read through `masters`. */
  askEtcd?: { node: string; masters: string[] };
  /** Retry this failed heal job. */
  retry?: { jobId: string; node: string };
  condition: HealCondition;
}

interface Finding {
  reason: HealReason;
  message: string;
}

const BLOCKING: readonly HealReason[] = [
  'TooManyUnhealthy',
  'ReplacementFailed',
  'SingleMaster',
  'EtcdAtRisk',
];
const ORDER: readonly HealReason[] = [...BLOCKING, 'Replacing', 'Waiting'];

const seconds = (ms: number) => Math.round(ms / 1000);

/** Decides one healing round of a cluster (see the file comment). */
export function decideHeal(input: HealInput): HealDecision {
  const { spec, now } = input;
  const at = now.toISOString();
  const since: Record<string, string> = {};
  for (const node of input.nodes) if (!node.ready) since[node.name] = input.since[node.name] ?? at;
  if (spec.autoHeal === false) {
    return {
      since,
      condition: { type: 'AutoHeal', status: 'True', reason: 'Disabled', message: 'auto-healing is off' },
    };
  }
  const findings: Finding[] = [];
  const unhealthyFor = (name: string) => now.getTime() - Date.parse(since[name] ?? at);
  // Names the time, not the duration: a condition that stays the same reads the same, unwritten.
  const describe = (n: HealNode) => `${n.name} (${n.reason ?? 'not Ready'} since ${since[n.name] ?? at})`;
  let replace: HealDecision['replace'];
  let retry: HealDecision['retry'];
  // A failed replacement is retried once (the job resumes where it stopped) before anything else.

  const failed = input.failedHeal;
  if (failed) {
    if (!failed.retried) {
      retry = { jobId: failed.jobId, node: failed.node };
      findings.push({ reason: 'Replacing', message: `retrying the replacement of ${failed.node}` });
    } else {
      findings.push({
        reason: 'ReplacementFailed',
        message: `the replacement of ${failed.node} failed ${MAX_HEAL_ATTEMPTS} times (job ${failed.jobId}): auto-healing stopped for the cluster; fix the cause, then retry the job`,
      });
    }
  }

  const byGroup = new Map<string, HealNode[]>();
  for (const node of input.nodes) {
    const group = nodeGroupOf(spec, node.name, node.labels);
    byGroup.set(group, [...(byGroup.get(group) ?? []), node]);
  }
  const masters = byGroup.get(MASTERS_GROUP) ?? [];
  const sickMasters = masters.filter((n) => !n.ready);
  let askEtcd: HealDecision['askEtcd'];
  if (sickMasters.length > 0) {
    const after = (spec.masterUnhealthyAfterSeconds ?? HEAL_DEFAULTS.unhealthyAfterSeconds) * 1000;
    const total = Math.max(spec.masters, masters.length);
    const first = sickMasters[0] as HealNode;
    const due = unhealthyFor(first.name) >= after;
    if (total < MIN_HEALED_MASTERS) {
      findings.push({
        reason: due ? 'SingleMaster' : 'Waiting',
        message: `master ${sickMasters.map(describe).join(', ')} is not replaced: a single master cannot be replaced without losing etcd, whose only member it runs; bring it back, or add masters`,
      });
    } else if (sickMasters.length > 1) {
      findings.push({
        reason: 'TooManyUnhealthy',
        message: `${sickMasters.length} of ${total} masters are not Ready: masters are replaced one at a time and only while the others are Ready, or etcd would lose quorum; none is replaced (${sickMasters.map(describe).join(', ')})`,
      });
    } else if (!due) {
      findings.push({
        reason: 'Waiting',
        message: `master ${describe(first)} replaced after ${seconds(after)} s not Ready`,
      });
    } else if (input.etcd?.node === first.name && input.etcd.blocked !== undefined) {
      findings.push({
        reason: 'EtcdAtRisk',
        message: `master ${describe(first)} is not replaced: ${input.etcd.blocked}`,
      });
    } else if (input.etcd?.node === first.name) {
      if (!failed) {
        replace = { group: MASTERS_GROUP, node: first.name, since: since[first.name] ?? at };
        findings.push({ reason: 'Replacing', message: `replacing master ${describe(first)}` });
      }
    } else if (!failed) {
      askEtcd = { node: first.name, masters: masters.map((n) => n.name).sort() };
      findings.push({
        reason: 'Waiting',
        message: `master ${describe(first)}: asking etcd whether its member may be replaced`,
      });
    }
  }
  for (const group of spec.nodeGroups) {
    const policy = healPolicy(spec, group);
    const nodes = byGroup.get(group.name) ?? [];
    const unhealthy = nodes.filter((n) => !n.ready);
    if (!policy.enabled || unhealthy.length === 0) continue;
    const total = Math.max(group.count, nodes.length);
    if (unhealthy.length * 100 > policy.maxUnhealthyPercent * total) {
      findings.push({
        reason: 'TooManyUnhealthy',
        message: `${unhealthy.length} of ${total} nodes of group ${group.name} are not Ready, more than its maxUnhealthyPercent (${policy.maxUnhealthyPercent} %): none is replaced until fewer are (${unhealthy.map(describe).join(', ')})`,
      });
      continue;
    }
    const due = unhealthy
      .filter((n) => unhealthyFor(n.name) >= policy.unhealthyAfterMs)
      .sort((a, b) => unhealthyFor(b.name) - unhealthyFor(a.name) || a.name.localeCompare(b.name));
    const waiting = unhealthy.filter((n) => !due.includes(n));
    if (waiting.length > 0) {
      findings.push({
        reason: 'Waiting',
        message: `${waiting.map(describe).join(', ')} replaced after ${seconds(policy.unhealthyAfterMs)} s not Ready`,
      });
    }
    const first = due[0];
    if (first && !replace && !failed && !askEtcd) {
      replace = { group: group.name, node: first.name, since: since[first.name] ?? at };
      findings.push({ reason: 'Replacing', message: `replacing ${describe(first)}` });
    }
  }
  return {
    since,
    ...(replace ? { replace } : {}),
    ...(retry ? { retry } : {}),
    ...(askEtcd ? { askEtcd } : {}),
    condition: conditionOf(findings),
  };
}

/** The most severe finding names the reason; every finding is in the message. */
function conditionOf(findings: Finding[]): HealCondition {
  if (findings.length === 0) {
    return { type: 'AutoHeal', status: 'True', reason: 'Healthy', message: 'every node is Ready' };
  }
  const sorted = [...findings].sort((a, b) => ORDER.indexOf(a.reason) - ORDER.indexOf(b.reason));
  const reason = (sorted[0] as Finding).reason;
  return {
    type: 'AutoHeal',
    status: BLOCKING.includes(reason) ? 'False' : 'True',
    reason,
    message: sorted.map((f) => f.message).join('; '),
  };
}
