import {
  Alert,
  AlertActionLink,
  Button,
  FormSelect,
  FormSelectOption,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadLogo,
  MastheadMain,
  MastheadToggle,
  Nav,
  NavExpandable,
  NavItem,
  NavList,
  Page,
  PageSidebar,
  PageSidebarBody,
  PageToggleButton,
  SkipToContent,
} from '@patternfly/react-core';
import SignOutAltIcon from '@patternfly/react-icons/dist/esm/icons/sign-out-alt-icon';
import UserIcon from '@patternfly/react-icons/dist/esm/icons/user-icon';
import type { ReactNode } from 'react';
import type { ClusterList, User } from '../api.ts';
import { linkProps, PATHS } from '../router.ts';

const MAIN_ID = 'kaas-main';

function ClusterSwitcher(props: {
  clusters: ClusterList | undefined;
  error: string | undefined;
  onRetry: () => void;
  onSelect: (id: string) => void;
}) {
  const { clusters, error } = props;
  if (error)
    return (
      <Alert
        variant="danger"
        isInline
        isPlain
        title="Clusters could not be loaded"
        actionLinks={<AlertActionLink onClick={props.onRetry}>Try again</AlertActionLink>}
      >
        {error}
      </Alert>
    );
  if (!clusters) return <span className="kaas-subtitle">Loading clusters…</span>;
  if (clusters.items.length === 0) return <span className="kaas-subtitle">No clusters available</span>;
  if (clusters.items.length === 1)
    return (
      <div>
        <div className="kaas-subtitle" id="active-cluster-label">
          Cluster
        </div>
        <div
          className="kaas-cluster-name"
          aria-labelledby="active-cluster-label"
          data-testid="active-cluster"
        >
          {clusters.items[0]?.name}
        </div>
      </div>
    );
  return (
    <div>
      <label className="kaas-subtitle" htmlFor="active-cluster">
        Cluster
      </label>
      <FormSelect
        id="active-cluster"
        value={clusters.activeClusterId ?? ''}
        onChange={(_e, value) => props.onSelect(value)}
        aria-label="Active cluster"
      >
        {clusters.items.map((c) => (
          <FormSelectOption key={c.id} value={c.id} label={c.name} />
        ))}
      </FormSelect>
    </div>
  );
}

/** The product frame: masthead with the user, sidebar with the active cluster and the navigation. */
export function AppLayout(props: {
  path: string;
  user: User;
  clusters: ClusterList | undefined;
  clusterError: string | undefined;
  onRetryClusters: () => void;
  onSelectCluster: (id: string) => void;
  onLogout: () => void;
  children: ReactNode;
}) {
  const { path, clusters } = props;
  const active = clusters?.items.find((c) => c.id === clusters.activeClusterId);
  const item = (to: string, label: string) => (
    <NavItem key={to} itemId={to} isActive={path === to} {...linkProps(to)}>
      {label}
    </NavItem>
  );

  const masthead = (
    <Masthead display={{ default: 'inline' }}>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton isHamburgerButton aria-label="Toggle navigation" />
        </MastheadToggle>
        <MastheadBrand>
          <MastheadLogo component="a" className="kaas-brand" {...linkProps(PATHS.tokens)}>
            <img src="/favicon.svg" alt="" />
            <span>kaas</span>
          </MastheadLogo>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <div className="kaas-user">
          <UserIcon aria-hidden className="kaas-hide-narrow" />
          <span data-testid="user-name" className="kaas-hide-narrow">
            {props.user.name} @ {props.user.domain}
          </span>
          <Button variant="plain" onClick={props.onLogout} aria-label="Log out" icon={<SignOutAltIcon />}>
            <span className="kaas-hide-narrow">Log out</span>
          </Button>
        </div>
      </MastheadContent>
    </Masthead>
  );

  const sidebar = (
    <PageSidebar>
      <PageSidebarBody className="kaas-cluster-switcher">
        <ClusterSwitcher
          clusters={clusters}
          error={props.clusterError}
          onRetry={props.onRetryClusters}
          onSelect={props.onSelectCluster}
        />
      </PageSidebarBody>
      <PageSidebarBody>
        <Nav aria-label="Main navigation">
          <NavList>
            <NavItem
              itemId={PATHS.clusters}
              isActive={path.startsWith(PATHS.clusters)}
              {...linkProps(PATHS.clusters)}
            >
              Clusters
            </NavItem>
            {item(PATHS.tokens, 'API tokens')}
            {item(PATHS.kubeconfig, 'Kubeconfig')}
            {item(PATHS.services, 'Managed services')}
            {active?.isAdmin && (
              <NavExpandable
                title="Administration"
                isExpanded
                isActive={path.startsWith('/admin/')}
                id="nav-admin"
              >
                {item(PATHS.adminOverview, 'Cluster overview')}
                {item(PATHS.adminServices, 'Service status')}
                {item(PATHS.adminRoleBindings, 'Role bindings')}
                {item(PATHS.adminTokens, 'User tokens')}
                {item(PATHS.adminAudit, 'Audit log')}
              </NavExpandable>
            )}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );

  return (
    <Page
      masthead={masthead}
      sidebar={sidebar}
      isManagedSidebar
      skipToContent={<SkipToContent href={`#${MAIN_ID}`}>Skip to content</SkipToContent>}
      mainContainerId={MAIN_ID}
    >
      {props.children}
    </Page>
  );
}
