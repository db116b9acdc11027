import { Button, EmptyState, EmptyStateBody, EmptyStateFooter } from '@patternfly/react-core';
import CubesIcon from '@patternfly/react-icons/dist/esm/icons/cubes-icon';
import PlusCircleIcon from '@patternfly/react-icons/dist/esm/icons/plus-circle-icon';
import { linkProps, PATHS } from '../router.ts';

/** "Create cluster", for operators: opens the guided form. */
export function CreateClusterButton() {
  return (
    <Button variant="primary" icon={<PlusCircleIcon />} component="a" {...linkProps(PATHS.newCluster)}>
      Create cluster
    </Button>
  );
}

/**
 * What the user sees without any cluster: operators are led to create one, everyone else is told
 * whom to ask.
 */
export function NoCluster(props: { canCreate: boolean }) {
  return (
    <EmptyState titleText="No cluster available to you" headingLevel="h2" icon={CubesIcon}>
      <EmptyStateBody>
        {props.canCreate
          ? 'Create the first cluster: pick its Kubernetes version, control plane and node groups, then follow its progress here.'
          : 'Clusters appear here when you hold a role on the OpenStack project that owns them. Ask a kaas operator to create a cluster, or your project administrator to grant you a role on a project that has one, then reload this page.'}
      </EmptyStateBody>
      {props.canCreate && (
        <EmptyStateFooter>
          <CreateClusterButton />
        </EmptyStateFooter>
      )}
    </EmptyState>
  );
}
