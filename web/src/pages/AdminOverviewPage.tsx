import {
  Alert,
  AlertActionLink,
  Bullseye,
  Card,
  CardBody,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Label,
  Spinner,
} from '@patternfly/react-core';
import { api, type Overview } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { NodeGroupsTable, NodesSummary } from '../components/ObservedNodes.tsx';
import { PageView } from '../components/PageView.tsx';
import { formatDateTime } from '../format.ts';
import { useLoad } from '../useLoad.ts';

function HealthLabel({ health }: { health: Overview['health'] }) {
  if (health.state === 'healthy') return <Label status="success">Healthy</Label>;
  if (health.state === 'unhealthy') return <Label status="danger">Unhealthy</Label>;
  return <Label color="grey">Unknown</Label>;
}

const unknown = (value: string | number | null, text = 'Unknown') =>
  value === null ? <span className="kaas-subtitle">{text}</span> : String(value);

/**
 * Administrators: health, version, nodes and provisioning state, honest about what isn't known. Node
 * readiness is read from the cluster's API on each load; what kaas requested is shown apart from it.
 */
export function AdminOverviewPage(props: { cluster: ClusterContext }) {
  const overview = useLoad(() => api.adminOverview(props.cluster.id), props.cluster.id);
  const o = overview.data;
  return (
    <PageView
      title="Cluster overview"
      description={
        <>
          State of <strong>{props.cluster.name}</strong> as reported by the cluster and the provisioner.
        </>
      }
    >
      {overview.error ? (
        <Alert
          variant="danger"
          isInline
          title="Could not load the overview"
          actionLinks={<AlertActionLink onClick={overview.reload}>Try again</AlertActionLink>}
        >
          {overview.error.message}
        </Alert>
      ) : !o ? (
        <Bullseye className="kaas-loading">
          <Spinner aria-label="Loading the overview" />
        </Bullseye>
      ) : (
        <Card>
          <CardTitle>{o.cluster.name}</CardTitle>
          <CardBody>
            <DescriptionList isHorizontal columnModifier={{ default: '1Col', lg: '2Col' }}>
              <DescriptionListGroup>
                <DescriptionListTerm>Health</DescriptionListTerm>
                <DescriptionListDescription>
                  <HealthLabel health={o.health} /> <span className="kaas-subtitle">{o.health.detail}</span>
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Provisioning state</DescriptionListTerm>
                <DescriptionListDescription>
                  {unknown(o.provisioningState, 'Not provisioned')}
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Kubernetes version</DescriptionListTerm>
                <DescriptionListDescription>{unknown(o.kubernetesVersion)}</DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Nodes Ready</DescriptionListTerm>
                <DescriptionListDescription>
                  <NodesSummary observed={o.observed} />
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Nodes requested</DescriptionListTerm>
                <DescriptionListDescription>{unknown(o.nodeCount)}</DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>API server</DescriptionListTerm>
                <DescriptionListDescription>
                  {o.apiUrl ? (
                    <span className="kaas-mono">{o.apiUrl}</span>
                  ) : (
                    unknown(null, 'Not provisioned')
                  )}
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>OpenStack project</DescriptionListTerm>
                <DescriptionListDescription>{o.cluster.projectName}</DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Last report</DescriptionListTerm>
                <DescriptionListDescription>
                  {o.reportedAt ? formatDateTime(o.reportedAt) : unknown(null, 'Never')}
                </DescriptionListDescription>
              </DescriptionListGroup>
            </DescriptionList>
          </CardBody>
          <CardTitle>Nodes by group</CardTitle>
          <CardBody>
            <NodeGroupsTable load={overview} />
          </CardBody>
        </Card>
      )}
    </PageView>
  );
}
