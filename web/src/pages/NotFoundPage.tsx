import { Button, EmptyState, EmptyStateBody, EmptyStateFooter, PageSection } from '@patternfly/react-core';
import LockIcon from '@patternfly/react-icons/dist/esm/icons/lock-icon';
import QuestionCircleIcon from '@patternfly/react-icons/dist/esm/icons/question-circle-icon';
import { linkProps, PATHS } from '../router.ts';

/**
 * An unknown path, an Administration page for a cluster the user does not administer, or the
 * create form for a user who is not an operator.
 */
export function NotFoundPage(props: { adminOnly?: boolean; operatorOnly?: boolean }) {
  const restricted = props.adminOnly || props.operatorOnly;
  return (
    <PageSection>
      <EmptyState
        titleText={
          props.adminOnly ? 'Administrators only' : props.operatorOnly ? 'Operators only' : 'Page not found'
        }
        headingLevel="h1"
        icon={restricted ? LockIcon : QuestionCircleIcon}
      >
        <EmptyStateBody>
          {props.adminOnly
            ? "You don't hold this cluster's admin role on its OpenStack project."
            : props.operatorOnly
              ? 'Creating clusters is for kaas operators. Ask one to create the cluster you need.'
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
