import { Alert } from '@patternfly/react-core';
import { api } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { NodesSummary } from '../components/ObservedNodes.tsx';
import { PageView } from '../components/PageView.tsx';
import { ServiceTable } from '../components/ServiceStatus.tsx';
import { useLoad } from '../useLoad.ts';

/** Links to the managed services of the active cluster, each on its own ingress subdomain. */
export function ServicesPage(props: { cluster: ClusterContext }) {
  const services = useLoad(() => api.services(props.cluster.id), props.cluster.id);
  const nodes = useLoad(() => api.nodes(props.cluster.id), props.cluster.id);
  return (
    <PageView
      title="Managed services"
      description={
        <>
          Monitoring, logging and the image registry that run inside <strong>{props.cluster.name}</strong>.
          {nodes.data !== undefined && (
            <span>
              {' '}
              Nodes: <NodesSummary observed={nodes.data} />
            </span>
          )}
        </>
      }
    >
      {services.data && !services.data.ingressDomain && (
        <Alert variant="info" isInline title="No ingress address yet" className="kaas-login-alert">
          The links appear once the cluster has been provisioned with an ingress domain.
        </Alert>
      )}
      <ServiceTable label="Managed services" services={services} withStatus={false} />
    </PageView>
  );
}
