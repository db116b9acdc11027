import { Alert } from '@patternfly/react-core';
import { api } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { PageView } from '../components/PageView.tsx';
import { serviceColumns } from '../components/ServiceStatus.tsx';
import { useLoad } from '../useLoad.ts';

/** Links to the managed services of the active cluster, each on its own ingress subdomain. */
export function ServicesPage(props: { cluster: ClusterContext }) {
  const services = useLoad(() => api.services(props.cluster.id), props.cluster.id);
  return (
    <PageView
      title="Managed services"
      description={
        <>
          Monitoring, logging and the image registry that run inside <strong>{props.cluster.name}</strong>.
        </>
      }
    >
      {services.data && !services.data.ingressDomain && (
        <Alert variant="info" isInline title="No ingress address yet" className="kaas-login-alert">
          The links appear once the cluster has been provisioned with an ingress domain.
        </Alert>
      )}
      <DataTable
        label="Managed services"
        columns={serviceColumns(false)}
        rows={services.data?.items}
        rowKey={(s) => s.id}
        loading={services.loading}
        error={services.error}
        onRetry={services.reload}
        empty={null}
      />
    </PageView>
  );
}
