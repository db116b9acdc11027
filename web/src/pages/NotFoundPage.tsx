import { Button, EmptyState, EmptyStateBody, EmptyStateFooter, PageSection } from '@patternfly/react-core';
import LockIcon from '@patternfly/react-icons/dist/esm/icons/lock-icon';
import QuestionCircleIcon from '@patternfly/react-icons/dist/esm/icons/question-circle-icon';
import { linkProps, PATHS } from '../router.ts';

/** An unknown path, or an Administration page for a cluster the user does not administer. */
export function NotFoundPage(props: { adminOnly?: boolean }) {
  return (
    <PageSection>
      <EmptyState
        titleText={props.adminOnly ? 'Administrators only' : 'Page not found'}
        headingLevel="h1"
        icon={props.adminOnly ? LockIcon : QuestionCircleIcon}
      >
        <EmptyStateBody>
          {props.adminOnly
            ? "You don't hold this cluster's admin role on its OpenStack project."
            : 'There is no page at this address.'}
        </EmptyStateBody>
        <EmptyStateFooter>
          <Button variant="primary" component="a" {...linkProps(PATHS.tokens)}>
            Go to API tokens
          </Button>
        </EmptyStateFooter>
      </EmptyState>
    </PageSection>
  );
}
