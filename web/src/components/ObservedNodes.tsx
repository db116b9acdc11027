import { Alert, Label } from '@patternfly/react-core';
import type { Observed, ObservedCount, ObservedGroup } from '../api.ts';
import { formatDateTime } from '../format.ts';
import type { Loaded } from '../useLoad.ts';
import { DataTable, type Column } from './DataTable.tsx';

/** Ready/total as a label: green when every node is Ready, orange otherwise. */
export function ReadyCount(props: { ready: number; total: number }) {
  const { ready, total } = props;
  return (
    <Label status={total > 0 && ready === total ? 'success' : 'warning'}>
      {ready}/{total} Ready
    </Label>
  );
}

/**
 * The one line a page shows about the cluster's Nodes as its API reports them: Ready/total, or
 * plainly that the API could not be reached and why (administrators see the reason).
 */
export function NodesSummary(props: { observed: ObservedCount | Observed | null }) {
  const o = props.observed;
  if (!o) return <span className="kaas-subtitle">Not observed: this kaas did not provision the cluster</span>;
  const reason = 'reason' in o && o.reason ? `: ${o.reason}` : '';
  if (o.noApi) return <span data-testid="no-api">{`No Kubernetes API${reason}`}</span>;
  if (o.notYet) return <span className="kaas-subtitle">{`No API yet${reason}`}</span>;
  if (!o.reachable) return <span data-testid="api-unreachable">{`API unreachable${reason}`}</span>;
  return (
    <>
      <ReadyCount ready={o.nodes.ready} total={o.nodes.total} />{' '}
      <span className="kaas-subtitle">checked {formatDateTime(o.checkedAt)}</span>
    </>
  );
}

const groupColumns: Column<ObservedGroup>[] = [
  { title: 'Node group', render: (g) => <strong>{g.name}</strong> },
  { title: 'Ready', render: (g) => <ReadyCount ready={g.ready} total={g.total} /> },
  {
    title: 'Kubelet versions',
    render: (g) =>
      g.kubeletVersions.length > 0 ? (
        <span className="kaas-mono">{g.kubeletVersions.join(', ')}</span>
      ) : (
        <span className="kaas-subtitle">None registered</span>
      ),
  },
];

/** Nodes per group for administrators; an unreachable API is a warning with its reason, not a table. */
export function NodeGroupsTable(props: { load: Loaded<{ observed: Observed | null }> }) {
  const o = props.load.data?.observed;
  if (o?.notYet) return <span className="kaas-subtitle">No nodes yet: {o.reason}</span>;
  if (o && !o.reachable)
    return (
      <Alert variant="warning" isInline title={`API unreachable: ${o.reason ?? 'unknown reason'}`}>
        kaas could not read the cluster&apos;s Nodes just now, so it shows no counts rather than old ones.
      </Alert>
    );
  return (
    <DataTable
      label="Node groups"
      columns={groupColumns}
      rows={props.load.data ? (o?.groups ?? []) : undefined}
      rowKey={(g) => g.name}
      load={props.load}
      empty={<span className="kaas-subtitle">Not observed: this kaas did not provision the cluster</span>}
    />
  );
}
