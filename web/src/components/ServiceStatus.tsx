import { Button, Label } from '@patternfly/react-core';
import ExternalLinkAltIcon from '@patternfly/react-icons/dist/esm/icons/external-link-alt-icon';
import type { ManagedService, ServiceList } from '../api.ts';
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
