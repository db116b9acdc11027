import { Alert, Button, Title } from '@patternfly/react-core';
import SyncAltIcon from '@patternfly/react-icons/dist/esm/icons/sync-alt-icon';
import { api } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { PageView } from '../components/PageView.tsx';
import { ServiceSyncTable, ServiceTable } from '../components/ServiceStatus.tsx';
import { formatDateTime } from '../format.ts';
import { useLoad } from '../useLoad.ts';

/**
 * Administrators: whether each managed service answers through the cluster's ingress, and how
 * kaas's reconciler last found each one on the cluster (re-applied every resync period).
 */
export function AdminServicesPage(props: { cluster: ClusterContext }) {
  const services = useLoad(() => api.adminServices(props.cluster.id), props.cluster.id);
  const sync = services.data?.reconcile;
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
      <Title headingLevel="h2" size="lg" className="kaas-gap-top">
        Kept in sync by kaas
      </Title>
      {sync && (
        <Alert
          variant={sync.error ? 'danger' : sync.syncedAt ? 'success' : 'info'}
          isInline
          title={
            sync.syncedAt
              ? `Last reconciled ${formatDateTime(sync.syncedAt)}${sync.error ? ': failed' : ''}`
              : 'Not reconciled yet'
          }
          className="kaas-login-alert"
        >
          {sync.error}
        </Alert>
      )}
      <ServiceSyncTable services={services} />
    </PageView>
  );
}
