import { Alert, Button, EmptyState, EmptyStateBody, Label } from '@patternfly/react-core';
import DownloadIcon from '@patternfly/react-icons/dist/esm/icons/download-icon';
import HistoryIcon from '@patternfly/react-icons/dist/esm/icons/history-icon';
import { useEffect, useState } from 'react';
import { api, type AuditEvent } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { PageView } from '../components/PageView.tsx';
import { formatDateTime } from '../format.ts';
import { useLoad } from '../useLoad.ts';

/** Each audited action as an imperative, so it reads right with either outcome beside it. */
const ACTIONS: Record<string, string> = {
  login: 'Log in',
  logout: 'Log out',
  'token.create': 'Create API token',
  'token.delete': 'Delete API token',
  'token.revoke': 'Revoke API token',
  'cluster.create': 'Create cluster',
  'cluster.resize': 'Resize cluster',
  'cluster.upgrade': 'Upgrade cluster',
  'cluster.delete': 'Delete cluster',
  'cluster.retry': 'Retry cluster job',
  'cluster.credentials.rotate': "Rotate the cluster's credentials",
  'cluster.autoheal.set': 'Turn auto-healing on or off',
  'cluster.bounds.set': 'Change autoscaling bounds',
  'cluster.heal': 'Replace an unhealthy node',
  'cluster.heal.retry': 'Retry a node replacement',
  'cluster.heal.stopped': 'Stop auto-healing',
  'rolebindings.update': 'Change role bindings',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A readable target: a token's name when known, a short token id otherwise (full id on hover). */
function Target({ event: e }: { event: AuditEvent }) {
  if (e.action === 'rolebindings.update' && typeof e.details.revision === 'number')
    return <>{`revision ${e.details.revision}`}</>;
  if (typeof e.details.name === 'string') return <>{e.details.name}</>;
  if (e.target && UUID.test(e.target))
    return (
      <span className="kaas-mono" title={e.target}>
        {`id ${e.target.slice(0, 8)}…`}
      </span>
    );
  return <>{e.target ?? '—'}</>;
}

/** `name@domain` shown as `name @ domain`, as elsewhere in the panel, so long names wrap at the @. */
function actor(e: AuditEvent): string {
  if (!e.actorName) return 'unknown user';
  const at = e.actorName.lastIndexOf('@');
  return at > 0 ? `${e.actorName.slice(0, at)} @ ${e.actorName.slice(at + 1)}` : e.actorName;
}

const columns: Column<AuditEvent>[] = [
  { title: 'Time', render: (e) => <span className="kaas-nowrap">{formatDateTime(e.at)}</span> },
  { title: 'User', render: (e) => <strong>{actor(e)}</strong> },
  { title: 'Action', render: (e) => ACTIONS[e.action] ?? e.action },
  { title: 'Target', render: (e) => <Target event={e} /> },
  {
    title: 'Outcome',
    render: (e) =>
      e.outcome === 'success' ? (
        <Label color="green" isCompact>
          Succeeded
        </Label>
      ) : (
        <Label color="red" isCompact>
          {`Failed${typeof e.details.status === 'number' ? ` (${e.details.status})` : ''}`}
        </Label>
      ),
  },
  { title: 'From', render: (e) => e.sourceIp ?? '—' },
];

/** Administrators: who did what on this cluster and its project, newest first, exportable as JSON lines. */
export function AdminAuditPage(props: { cluster: ClusterContext }) {
  const first = useLoad(() => api.audit(props.cluster.id), props.cluster.id);
  const [older, setOlder] = useState<{ items: AuditEvent[]; nextBefore: string | null }>();
  const [moreError, setMoreError] = useState<Error>();
  const [loadingMore, setLoadingMore] = useState(false);
  useEffect(() => {
    setOlder(undefined);
    setMoreError(undefined);
  }, [first.data]);

  const rows = first.data ? [...first.data.items, ...(older?.items ?? [])] : undefined;
  const nextBefore = older ? older.nextBefore : first.data?.nextBefore;
  const loadMore = async () => {
    if (!nextBefore) return;
    setLoadingMore(true);
    setMoreError(undefined);
    try {
      const page = await api.audit(props.cluster.id, nextBefore);
      setOlder((o) => ({ items: [...(o?.items ?? []), ...page.items], nextBefore: page.nextBefore }));
    } catch (error) {
      setMoreError(error as Error);
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <PageView
      title="Audit log"
      description={
        <>
          Logins, token and cluster operations and role-binding changes on{' '}
          <strong>{props.cluster.name}</strong> and by members of its project.
        </>
      }
      actions={
        <Button
          component="a"
          variant="secondary"
          href={api.auditExportUrl(props.cluster.id)}
          download
          icon={<DownloadIcon />}
        >
          Export (JSON lines)
        </Button>
      }
    >
      <DataTable
        label="Audit log"
        columns={columns}
        rows={rows}
        rowKey={(e) => e.id}
        load={first}
        empty={
          <EmptyState titleText="No audit events yet" headingLevel="h2" icon={HistoryIcon}>
            <EmptyStateBody>
              Logins, token changes, cluster operations and role-binding changes will be listed here.
            </EmptyStateBody>
          </EmptyState>
        }
      />
      {moreError && (
        <Alert variant="danger" isInline title="Could not load older events" className="kaas-gap-top">
          {moreError.message}
        </Alert>
      )}
      {nextBefore && (
        <Button variant="link" onClick={loadMore} isLoading={loadingMore} className="kaas-gap-top">
          Load older events
        </Button>
      )}
    </PageView>
  );
}
