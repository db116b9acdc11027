import { EmptyState, EmptyStateBody } from '@patternfly/react-core';
import CubesIcon from '@patternfly/react-icons/dist/esm/icons/cubes-icon';

/** What cluster pages show when the user holds no role on any cluster's project. */
export function NoCluster() {
  return (
    <EmptyState titleText="No cluster available to you" headingLevel="h2" icon={CubesIcon}>
      <EmptyStateBody>
        Clusters appear here when you hold a role on the OpenStack project that owns them. Ask your project
        administrator to grant you a role, then reload this page.
      </EmptyStateBody>
    </EmptyState>
  );
}
