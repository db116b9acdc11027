import { describe, expect, it } from 'vitest';
import type { ClusterView, JobView } from '../provisioner/provisioner.ts';
import type { JobRecord } from '../store/findJob.ts';
import { showData } from './clusterOutput.ts';

const job = (state: JobRecord['state'], updatedAt: string) =>
  ({
    id: 'job-1',
    clusterId: 'c1',
    kind: 'resize',
    state,
    error: null,
    createdAt: '2030-01-01T00:00:00.000Z',
    updatedAt,
  }) as JobRecord;

describe('cluster show data', () => {
  it('shows the latest operation as read beside the cluster, not as the list read after moved on', () => {
    const running = job('running', '2030-01-01T00:00:01.000Z');
    const view = { id: 'c1', name: 'one', status: 'resizing', lastJob: running } as unknown as ClusterView;
    const latest = { job: running, steps: [], events: [] } as unknown as JobView;
    // The job finished between the reads: the list says succeeded while the cluster still resizes.
    const data = showData(view, [job('succeeded', '2030-01-01T00:00:09.000Z')], latest, false);
    expect(data.cluster.status).toBe('resizing');
    expect(data.operations[0]).toMatchObject({ id: 'job-1', state: 'running', steps: [] });
  });
});
