import { describe, expect, it } from 'vitest';
import { crdEstablished, workloadReadiness } from './readiness.ts';

const live = (spec: object, status: object | undefined, generation = 2) => ({
  metadata: { generation },
  spec,
  ...(status === undefined ? {} : { status }),
});

describe('workload readiness', () => {
  it('waits until the controller observed the current generation', () => {
    const d = live({ replicas: 2 }, { observedGeneration: 1, updatedReplicas: 2, availableReplicas: 2 });
    expect(workloadReadiness('Deployment', d)).toEqual({
      ready: false,
      detail: 'controller has not observed generation 2 yet',
    });
    expect(workloadReadiness('Deployment', live({}, undefined))).toMatchObject({ ready: false });
  });

  it('judges Deployments by updated and available replicas (default 1)', () => {
    expect(
      workloadReadiness(
        'Deployment',
        live({ replicas: 2 }, { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 1 }),
      ),
    ).toEqual({ ready: false, detail: '1/2 replicas available, 2 updated' });
    expect(
      workloadReadiness(
        'Deployment',
        live({}, { observedGeneration: 2, updatedReplicas: 1, availableReplicas: 1 }),
      ),
    ).toEqual({ ready: true, detail: '1/1 replicas available, 1 updated' });
  });

  it('judges StatefulSets by ready replicas', () => {
    const s = live(
      { replicas: 3 },
      { observedGeneration: 2, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 3 },
    );
    expect(workloadReadiness('StatefulSet', s)).toEqual({
      ready: false,
      detail: '2/3 replicas ready, 3 updated',
    });
  });

  it('judges DaemonSets by available and updated pods per scheduled node', () => {
    const status = {
      observedGeneration: 2,
      desiredNumberScheduled: 3,
      updatedNumberScheduled: 3,
      numberAvailable: 2,
    };
    expect(workloadReadiness('DaemonSet', live({}, status))).toEqual({
      ready: false,
      detail: '2/3 pods available, 3 updated',
    });
    expect(workloadReadiness('DaemonSet', live({}, { ...status, numberAvailable: 3 })).ready).toBe(true);
  });

  it('sees a CRD established only with Established=True', () => {
    expect(crdEstablished({})).toBe(false);
    expect(crdEstablished({ status: { conditions: [{ type: 'Established', status: 'False' }] } })).toBe(
      false,
    );
    expect(crdEstablished({ status: { conditions: [{ type: 'Established', status: 'True' }] } })).toBe(true);
  });
});
