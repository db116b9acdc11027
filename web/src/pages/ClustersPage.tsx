import type { ClusterItem, ClusterList } from '../api.ts';
import { ClusterStateLabel } from '../components/ClusterState.tsx';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { CreateClusterButton, NoCluster } from '../components/NoCluster.tsx';
import { PageView } from '../components/PageView.tsx';
import { clusterPath, linkProps } from '../router.ts';
import type { Loaded } from '../useLoad.ts';

/** The clusters the user can see, with their state and version; administrators open a cluster's page. */
export function ClustersPage(props: {
  clusters: ClusterList | undefined;
  load: Loaded<unknown>;
  canCreate: boolean;
}) {
  const columns: Column<ClusterItem>[] = [
    {
      title: 'Name',
      render: (c) =>
        c.isAdmin ? (
          <a {...linkProps(clusterPath(c.id))}>
            <strong>{c.name}</strong>
          </a>
        ) : (
          <strong>{c.name}</strong>
        ),
    },
    { title: 'Project', render: (c) => c.project.name },
    { title: 'State', render: (c) => <ClusterStateLabel status={c.status} /> },
    {
      title: 'Kubernetes',
      render: (c) => c.kubernetesVersion ?? <span className="kaas-subtitle">Unknown</span>,
    },
    { title: 'Your access', render: (c) => (c.isAdmin ? 'Administrator' : 'Member') },
  ];
  return (
    <PageView
      title="Clusters"
      description="The Kubernetes clusters of the OpenStack projects you hold a role on."
      actions={props.canCreate && props.clusters?.items.length ? <CreateClusterButton /> : undefined}
    >
      <DataTable
        label="Clusters"
        columns={columns}
        rows={props.clusters?.items}
        rowKey={(c) => c.id}
        load={props.load}
        empty={<NoCluster canCreate={props.canCreate} />}
      />
    </PageView>
  );
}
