import { Alert, Button } from '@patternfly/react-core';
import SyncAltIcon from '@patternfly/react-icons/dist/esm/icons/sync-alt-icon';
import { api } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { PageView } from '../components/PageView.tsx';
import { ServiceTable } from '../components/ServiceStatus.tsx';
import { useLoad } from '../useLoad.ts';

/** Administrators: whether each managed service answers through the cluster's ingress. */
export function AdminServicesPage(props: { cluster: ClusterContext }) {
  const services = useLoad(() => api.adminServices(props.cluster.id), props.cluster.id);
  return (
    <PageView
      title="Service status"
      description="Each managed service, checked through the cluster ingress just now."
      actions={
        <Button
          variant="secondary"
          icon={<SyncAltIcon />}
          onClick={services.reload}
          isLoading={services.loading}
        >
          Check again
        </Button>
      }
    >
      {services.data && !services.data.ingressDomain && (
        <Alert
          variant="info"
          isInline
          title="Status unknown: the cluster has no ingress domain recorded yet"
          className="kaas-login-alert"
        />
      )}
      <ServiceTable label="Managed service status" services={services} withStatus />
    </PageView>
  );
}
