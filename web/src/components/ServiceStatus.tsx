import { Button, Label } from '@patternfly/react-core';
import ExternalLinkAltIcon from '@patternfly/react-icons/dist/esm/icons/external-link-alt-icon';
import type { ManagedService, ServiceList, ServiceSync } from '../api.ts';
import { formatDateTime } from '../format.ts';
import type { Loaded } from '../useLoad.ts';
import { DataTable, type Column } from './DataTable.tsx';

/** A cluster's managed services: links on the services page, links and status on the admin status page. */
export function ServiceTable(props: { label: string; services: Loaded<ServiceList>; withStatus: boolean }) {
  return (
    <DataTable
      label={props.label}
      columns={serviceColumns(props.withStatus)}
      rows={props.services.data?.items}
      rowKey={(s) => s.id}
      load={props.services}
      empty={null}
    />
  );
}

/** Name, purpose and link of each service; with `withStatus`, whether it answers through the ingress. */
function serviceColumns(withStatus: boolean): Column<ManagedService>[] {
  const columns: Column<ManagedService>[] = [
    { title: 'Service', render: (s) => <strong>{s.name}</strong> },
    { title: 'Purpose', render: (s) => s.description },
    {
      title: 'Address',
      render: (s) =>
        s.url ? (
          <Button
            variant="link"
            isInline
            component="a"
            href={s.url}
            target="_blank"
            rel="noopener noreferrer"
            icon={<ExternalLinkAltIcon />}
            iconPosition="end"
            className="kaas-url"
          >
            {s.url.replace(/^https:\/\//, '')}
          </Button>
        ) : (
          <span className="kaas-subtitle">Not available yet</span>
        ),
    },
  ];
  if (withStatus)
    columns.push({
      title: 'Status',
      render: (s) => (
        <>
          <Label
            isCompact
            status={s.status === 'up' ? 'success' : s.status === 'down' ? 'danger' : undefined}
            color={s.status === 'unknown' ? 'grey' : undefined}
          >
            {s.status === 'up' ? 'Up' : s.status === 'down' ? 'Down' : 'Unknown'}
          </Label>
          {s.status === 'down' && <div className="kaas-subtitle kaas-url">{s.detail}</div>}
        </>
      ),
    });
  return columns;
}

const STATE_LABEL: Record<ServiceSync['state'], { text: string; status?: 'success' | 'danger' | 'info' }> = {
  ready: { text: 'In sync', status: 'success' },
  failed: { text: 'Failed', status: 'danger' },
  applying: { text: 'Applying', status: 'info' },
  pending: { text: 'Pending' },
};

/** Each managed service kaas keeps on the cluster, as its reconciler last found it. */
export function ServiceSyncTable(props: { services: Loaded<ServiceList> }) {
  return (
    <DataTable
      label="Managed services on the cluster"
      columns={[
        { title: 'Service', render: (s) => <strong>{s.name}</strong> },
        {
          title: 'State',
          render: (s) => (
            <Label
              isCompact
              status={STATE_LABEL[s.state].status}
              color={s.state === 'pending' ? 'grey' : undefined}
            >
              {STATE_LABEL[s.state].text}
            </Label>
          ),
        },
        { title: 'Detail', render: (s) => <span className="kaas-url">{s.message}</span> },
        { title: 'Checked', render: (s) => formatDateTime(s.observedAt) },
      ]}
      rows={props.services.data?.reconcile?.services}
      rowKey={(s) => s.name}
      load={props.services}
      empty="kaas has not applied any managed service to this cluster yet."
    />
  );
}
