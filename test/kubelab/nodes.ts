/**
 * What the tests do to the Nodes the stand-in (src/dev/kube/nodes.ts) registers: read them, wait
 * for them to be Ready, and make one look like a node whose kubelet died.
 */
import { KWOK_NODE_ANNOTATION, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import type { NodeObject } from '../../src/dev/kube/nodes.ts';

/** The Node `name`, or undefined when there is none. */
export async function getNode(lab: Kubelab, name: string): Promise<NodeObject | undefined> {
  const { status, body } = await lab.request('GET', `/api/v1/nodes/${encodeURIComponent(name)}`);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`GET node ${name} answered ${status}: ${JSON.stringify(body)}`);
  return body as NodeObject;
}

/** Whether kwok reports the Node Ready. */
export function isReady(node: NodeObject | undefined): boolean {
  return (node?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * What a node whose kubelet died looks like to the API: kwok stops keeping the Node (its annotation
 * goes) and its Ready condition turns False, as the kubelet's last status would leave it before the
 * node lifecycle controller marks it Unknown. Deleting the Node brings it back: the stand-in
 * registers it again while its server runs, like a kubelet that restarted.
 */
export async function stopNodeRenewal(lab: Kubelab, name: string): Promise<void> {
  await lab.kubectl(['annotate', 'node', name, `${KWOK_NODE_ANNOTATION}-`]);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const ready = {
    type: 'Ready',
    status: 'False',
    reason: 'KubeletNotReady',
    message: 'the kubelet stopped posting its status (test)',
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  };
  await lab.kubectl([
    'patch',
    'node',
    name,
    '--subresource=status',
    '--type=strategic',
    `--patch=${JSON.stringify({ status: { conditions: [ready] } })}`,
  ]);
}

/** Waits until every Node of `names` is Ready. */
export async function waitForReadyNodes(lab: Kubelab, names: string[], timeoutMs = 30_000): Promise<void> {
  await lab.waitFor(
    `Nodes ${names.join(', ')} Ready`,
    async () => (await Promise.all(names.map((n) => getNode(lab, n)))).every(isReady),
    timeoutMs,
  );
}
