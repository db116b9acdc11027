import { describe, expect, it } from 'vitest';
import {
  decideHeal,
  healPolicy,
  HEAL_DEFAULTS,
  type HealCondition,
  type HealDecision,
  type HealInput,
  type HealNode,
} from './heal.ts';
import type { NodeGroup } from './spec.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
/** The fake clock: `s` seconds after T0. */
const at = (s: number) => new Date(T0 + s * 1000);
const iso = (s: number) => at(s).toISOString();

const group = (name: string, count: number, extra: Partial<NodeGroup> = {}): NodeGroup => ({
  name,
  count,
  flavor: 'm1.small',
  image: 'debian',
  labels: {},
  ...extra,
});
const spec = (groups: NodeGroup[], autoHeal?: boolean, masters: 1 | 3 = 1): HealInput['spec'] => ({
  name: 'c',
  nodeGroups: groups,
  masters,
  ...(autoHeal === undefined ? {} : { autoHeal }),
});
const worker = (g: string, i: number, ready = true): HealNode => ({
  name: `kaas-c-${g}-${i}`,
  ready,
  ...(ready ? {} : { reason: 'Ready=Unknown (NodeStatusUnknown)' }),
  labels: {},
});
const master = (i: number, ready = true): HealNode => ({
  name: `kaas-c-master-${i}`,
  ready,
  labels: { 'node-role.kubernetes.io/control-plane': '' },
});

/** Rounds on the fake clock, carrying `since` from one to the next as the healer stores it. */
function rounds(input: Omit<HealInput, 'since' | 'now'>, seconds: number[]) {
  let since: Record<string, string> = {};
  return seconds.map((s) => {
    const decision = decideHeal({ ...input, since, now: at(s) });
    since = decision.since;
    return decision;
  });
}

describe('healPolicy', () => {
  it('fills the defaults and is off when the cluster or the group switch is off', () => {
    expect(healPolicy({}, group('a', 3))).toEqual({
      enabled: true,
      unhealthyAfterMs: HEAL_DEFAULTS.unhealthyAfterSeconds * 1000,
      maxUnhealthyPercent: 40,
    });
    expect(healPolicy({ autoHeal: false }, group('a', 3)).enabled).toBe(false);
    expect(healPolicy({}, group('a', 3, { autoHeal: false })).enabled).toBe(false);
    expect(healPolicy({}, group('a', 3, { unhealthyAfterSeconds: 5, maxUnhealthyPercent: 70 }))).toEqual({
      enabled: true,
      unhealthyAfterMs: 5000,
      maxUnhealthyPercent: 70,
    });
  });
});

describe('decideHeal', () => {
  it('replaces a worker only once it has been not Ready for unhealthyAfter, counted from when it was first seen', () => {
    const nodes = [worker('a', 0), worker('a', 1, false), worker('a', 2)];
    const [first, early, due] = rounds({ spec: spec([group('a', 3)]), nodes }, [0, 299, 300]);
    expect(first?.since).toEqual({ 'kaas-c-a-1': iso(0) });
    expect(first?.replace).toBeUndefined();
    expect(first?.condition).toMatchObject({ status: 'True', reason: 'Waiting' });
    expect(early?.replace).toBeUndefined();
    expect(early?.since).toEqual({ 'kaas-c-a-1': iso(0) });
    expect(due?.replace).toEqual({ group: 'a', node: 'kaas-c-a-1', since: iso(0) });
    expect(due?.condition).toMatchObject({ status: 'True', reason: 'Replacing' });
    expect(due?.condition.message).toContain(
      `kaas-c-a-1 (Ready=Unknown (NodeStatusUnknown) since ${iso(0)})`,
    );
    // The message names the time, not a duration: unchanged from one round to the next.
    expect(early?.condition).toEqual(first?.condition);
  });

  it('forgets a Node that is Ready again, so its clock starts over next time', () => {
    const input = { spec: spec([group('a', 3)]), now: at(200) };
    const down = decideHeal({ ...input, nodes: [worker('a', 0, false)], since: {} });
    expect(down.since).toEqual({ 'kaas-c-a-0': iso(200) });
    const up = decideHeal({ ...input, nodes: [worker('a', 0)], since: down.since });
    expect(up.since).toEqual({});
    expect(up.condition).toEqual({
      type: 'AutoHeal',
      status: 'True',
      reason: 'Healthy',
      message: 'every node is Ready',
    });
  });

  it('replaces nothing when more than maxUnhealthyPercent of a group is not Ready, and says so', () => {
    const nodes = [worker('a', 0, false), worker('a', 1, false), worker('a', 2)];
    const decision = decideHeal({
      spec: spec([group('a', 3)]),
      nodes,
      since: { 'kaas-c-a-0': iso(0), 'kaas-c-a-1': iso(0) },
      now: at(1000),
    });
    expect(decision.replace).toBeUndefined();
    expect(decision.condition).toMatchObject({ status: 'False', reason: 'TooManyUnhealthy' });
    expect(decision.condition.message).toMatch(
      /^2 of 3 nodes of group a are not Ready, more than its maxUnhealthyPercent \(40 %\)/,
    );
    // The same two out of five are 40 %, not more: the longest unhealthy is replaced.
    const five = decideHeal({
      spec: spec([group('a', 5)]),
      nodes: [...nodes, worker('a', 3), worker('a', 4)],
      since: { 'kaas-c-a-0': iso(10), 'kaas-c-a-1': iso(0) },
      now: at(1000),
    });
    expect(five.replace).toMatchObject({ node: 'kaas-c-a-1' });
  });

  it('counts the group at its spec size when Nodes are missing', () => {
    const decision = decideHeal({
      spec: spec([group('a', 3, { maxUnhealthyPercent: 50 })]),
      nodes: [worker('a', 0, false)],
      since: { 'kaas-c-a-0': iso(0) },
      now: at(400),
    });
    expect(decision.replace).toMatchObject({ node: 'kaas-c-a-0' });
  });

  it('does nothing when the cluster or the group is switched off', () => {
    const nodes = [worker('a', 0, false), worker('b', 0, false)];
    const since = { 'kaas-c-a-0': iso(0), 'kaas-c-b-0': iso(0) };
    const off = decideHeal({
      spec: spec([group('a', 3), group('b', 3)], false),
      nodes,
      since,
      now: at(1000),
    });
    expect(off.replace).toBeUndefined();
    expect(off.condition).toMatchObject({ status: 'True', reason: 'Disabled' });
    const groupOff = decideHeal({
      spec: spec([group('a', 3, { autoHeal: false }), group('b', 3)]),
      nodes,
      since,
      now: at(1000),
    });
    expect(groupOff.replace).toMatchObject({ group: 'b', node: 'kaas-c-b-0' });
  });

  it('uses each group its own unhealthyAfter and replaces one node per round', () => {
    const nodes = [worker('a', 0, false), worker('a', 1, false), worker('b', 0, false)];
    const input = {
      spec: spec([
        group('a', 5, { unhealthyAfterSeconds: 60 }),
        group('b', 3, { unhealthyAfterSeconds: 10 }),
      ]),
      nodes,
    };
    const [, second] = rounds(input, [0, 30]);
    expect(second?.replace).toMatchObject({ group: 'b', node: 'kaas-c-b-0' });
    expect(second?.condition.message).toContain('replaced after 60 s not Ready');
  });

  it('retries a failed replacement once, then stops healing and says why', () => {
    const input = { spec: spec([group('a', 3)]), nodes: [worker('a', 0, false)], since: {}, now: at(1000) };
    const first = decideHeal({ ...input, failedHeal: { jobId: 'j1', node: 'kaas-c-a-0', retried: false } });
    expect(first.retry).toEqual({ jobId: 'j1', node: 'kaas-c-a-0' });
    expect(first.replace).toBeUndefined();
    const again = decideHeal({ ...input, failedHeal: { jobId: 'j1', node: 'kaas-c-a-0', retried: true } });
    expect(again.retry).toBeUndefined();
    expect(again.replace).toBeUndefined();
    expect(again.condition).toMatchObject({ status: 'False', reason: 'ReplacementFailed' });
    expect(again.condition.message).toContain('job j1');
  });

  const ha = (extra: Partial<HealInput['spec']> = {}) => ({
    ...spec([group('a', 3)], undefined, 3),
    masterUnhealthyAfterSeconds: 60,
    ...extra,
  });
  /** The condition of a decision that replaces nothing and asks etcd nothing. */
  const unacted = (decision: HealDecision): HealCondition => {
    expect(decision.replace).toBeUndefined();
    expect(decision.askEtcd).toBeUndefined();
    return decision.condition;
  };
  const masters3 = (down: number[]) => [0, 1, 2].map((i) => master(i, !down.includes(i)));
  /** master-1 of three down for 400 s, and what else the healer knows. */
  const master1Down = (known: Partial<Parameters<typeof decideHeal>[0]>) =>
    decideHeal({
      spec: ha(),
      nodes: masters3([1]),
      since: { 'kaas-c-master-1': iso(0) },
      now: at(400),
      ...known,
    });

  it('replaces a master of three once it is the only one not Ready past masterUnhealthyAfter and etcd agrees', () => {
    const nodes = [...masters3([1]), worker('a', 0, false)];
    const since = { 'kaas-c-master-1': iso(0), 'kaas-c-a-0': iso(0) };
    const early = decideHeal({ spec: ha(), nodes, since, now: at(59) });
    expect(early.askEtcd).toBeUndefined();
    expect(early.condition).toMatchObject({ status: 'True', reason: 'Waiting' });
    expect(early.condition.message).toContain('master kaas-c-master-1 (not Ready since');
    // Due: etcd is asked first, and nothing else is replaced meanwhile.
    const ask = decideHeal({ spec: ha(), nodes, since, now: at(400) });
    expect(ask.askEtcd).toEqual({
      node: 'kaas-c-master-1',
      masters: ['kaas-c-master-0', 'kaas-c-master-1', 'kaas-c-master-2'],
    });
    expect(ask.replace).toBeUndefined();
    const yes = decideHeal({ spec: ha(), nodes, since, now: at(400), etcd: { node: 'kaas-c-master-1' } });
    expect(yes.replace).toEqual({ group: 'masters', node: 'kaas-c-master-1', since: iso(0) });
    expect(yes.condition).toMatchObject({ status: 'True', reason: 'Replacing' });
    // Masters use their own time: the worker would be due at 300 s by the group default.
    expect(
      decideHeal({ spec: ha({ masterUnhealthyAfterSeconds: 500 }), nodes, since, now: at(400) }).replace,
    ).toEqual({
      group: 'a',
      node: 'kaas-c-a-0',
      since: iso(0),
    });
  });

  it('replaces no master when etcd says another member is unhealthy, and says why', () => {
    const decision = master1Down({
      etcd: { node: 'kaas-c-master-1', blocked: 'etcd member(s) kaas-c-master-2 (unreachable) not healthy' },
    });
    expect(unacted(decision)).toMatchObject({ status: 'False', reason: 'EtcdAtRisk' });
    expect(decision.condition.message).toContain('kaas-c-master-2 (unreachable) not healthy');
  });

  it('replaces no master while two of three are not Ready: one at a time, keeping quorum', () => {
    const decision = decideHeal({
      spec: ha(),
      nodes: masters3([0, 2]),
      since: { 'kaas-c-master-0': iso(0), 'kaas-c-master-2': iso(0) },
      now: at(400),
    });
    expect(unacted(decision)).toMatchObject({ status: 'False', reason: 'TooManyUnhealthy' });
    expect(decision.condition.message).toMatch(
      /^2 of 3 masters are not Ready: masters are replaced one at a time/,
    );
  });

  it('never replaces a single master: the condition says it cannot be replaced without losing etcd', () => {
    const input = {
      spec: { ...spec([group('a', 3)]), masterUnhealthyAfterSeconds: 60 },
      nodes: [master(0, false), worker('a', 0)],
      since: { 'kaas-c-master-0': iso(0) },
    };
    expect(decideHeal({ ...input, now: at(30) }).condition).toMatchObject({
      status: 'True',
      reason: 'Waiting',
    });
    const decision = decideHeal({ ...input, now: at(600) });
    expect(unacted(decision)).toMatchObject({ status: 'False', reason: 'SingleMaster' });
    expect(decision.condition.message).toContain('a single master cannot be replaced without losing etcd');
  });

  it('retries a failed master replacement like a worker one, asking etcd nothing', () => {
    const decision = master1Down({
      failedHeal: { jobId: 'j1', node: 'kaas-c-master-1', retried: false },
    });
    expect(decision.retry).toEqual({ jobId: 'j1', node: 'kaas-c-master-1' });
    expect(decision.askEtcd).toBeUndefined();
    expect(decision.replace).toBeUndefined();
  });
});
