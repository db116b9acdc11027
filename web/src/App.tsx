import { Bullseye, Spinner } from '@patternfly/react-core';
import { useCallback, useEffect, useState } from 'react';
import { api, setUnauthorizedHandler, type ClusterList, type Session } from './api.ts';
import { AppLayout } from './components/AppLayout.tsx';
import { NoCluster } from './components/NoCluster.tsx';
import { AdminAuditPage } from './pages/AdminAuditPage.tsx';
import { AdminOverviewPage } from './pages/AdminOverviewPage.tsx';
import { AdminRoleBindingsPage } from './pages/AdminRoleBindingsPage.tsx';
import { AdminServicesPage } from './pages/AdminServicesPage.tsx';
import { AdminTokensPage } from './pages/AdminTokensPage.tsx';
import { ClusterPage, type CreatedKey } from './pages/ClusterPage.tsx';
import { ClustersPage } from './pages/ClustersPage.tsx';
import { CreateClusterPage } from './pages/CreateClusterPage.tsx';
import { KubeconfigPage } from './pages/KubeconfigPage.tsx';
import { LoginView } from './pages/LoginView.tsx';
import { NotFoundPage } from './pages/NotFoundPage.tsx';
import { ServicesPage } from './pages/ServicesPage.tsx';
import { TokensPage } from './pages/TokensPage.tsx';
import { clusterIdOf, clusterPath, navigate, PATHS, usePath } from './router.ts';

/** What pages of one cluster receive. */
export interface ClusterContext {
  id: string;
  name: string;
  isAdmin: boolean;
}

/**
 * The panel: establishes the session (or shows login), loads the clusters the user can see, and
 * routes. Any 401 from any call lands here as "session expired" and returns to the login page.
 */
export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [clusters, setClusters] = useState<ClusterList>();
  const [clusterError, setClusterError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [returnTo, setReturnTo] = useState<string>(PATHS.tokens);
  const [canCreate, setCanCreate] = useState(false);
  const [createdKey, setCreatedKey] = useState<CreatedKey>();

  const expire = useCallback(() => {
    setSession(null);
    setClusters(undefined);
    setNotice('Your session has expired. Log in again to continue.');
    if (window.location.pathname !== PATHS.login) setReturnTo(window.location.pathname);
    navigate(PATHS.login, { replace: true });
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(expire);
    api.session().then(
      (s) => setSession(s ?? null),
      () => setSession(null),
    );
  }, [expire]);

  const loadClusters = useCallback(() => {
    setClusterError(undefined);
    api.clusters().then(setClusters, (e: Error) => setClusterError(e.message));
  }, []);

  useEffect(() => {
    if (!session) return;
    loadClusters();
    api.permissions().then(
      (p) => setCanCreate(p.createClusters),
      () => setCanCreate(false),
    );
  }, [session, loadClusters]);

  useEffect(() => {
    if (session === null && path !== PATHS.login) {
      setReturnTo(path === '/' ? PATHS.tokens : path);
      navigate(PATHS.login, { replace: true });
    }
    if (session && (path === PATHS.login || path === '/')) navigate(returnTo, { replace: true });
  }, [session, path, returnTo]);

  if (session === undefined)
    return (
      <Bullseye className="kaas-loading">
        <Spinner aria-label="Loading the control panel" />
      </Bullseye>
    );
  if (session === null || path === PATHS.login)
    return (
      <LoginView
        notice={notice}
        onLogin={(s) => {
          setNotice(undefined);
          setSession(s);
        }}
      />
    );

  const active = clusters?.items.find((c) => c.id === clusters.activeClusterId);
  const selectCluster = async (id: string) => {
    const previous = clusters;
    if (clusters) setClusters({ ...clusters, activeClusterId: id });
    try {
      await api.setActiveCluster(id);
      const chosen = clusters?.items.find((c) => c.id === id);
      if (!chosen?.isAdmin && path.startsWith('/admin/')) navigate(PATHS.tokens);
    } catch (e) {
      setClusters(previous);
      setClusterError((e as Error).message);
    }
  };
  const logout = async () => {
    await api.logout();
    // Leave for the login page first so the next user starts on API tokens, not on this user's page.
    navigate(PATHS.login);
    setNotice('You have logged out.');
    setReturnTo(PATHS.tokens);
    setSession(null);
    setClusters(undefined);
  };

  const needsCluster = (render: (c: ClusterContext) => React.ReactNode) =>
    !clusters ? (
      <Bullseye className="kaas-loading">
        <Spinner aria-label="Loading clusters" />
      </Bullseye>
    ) : active ? (
      render(active)
    ) : (
      <NoCluster canCreate={canCreate} />
    );
  const needsAdmin = (render: (c: ClusterContext) => React.ReactNode) =>
    needsCluster((c) => (c.isAdmin ? render(c) : <NotFoundPage adminOnly />));

  const clusterId = clusterIdOf(path);
  let page: React.ReactNode;
  switch (clusterId ? PATHS.clusters + '/:id' : path) {
    case PATHS.clusters:
      page = (
        <ClustersPage
          clusters={clusters}
          canCreate={canCreate}
          load={{
            data: clusters,
            error: clusterError ? new Error(clusterError) : undefined,
            loading: false,
            reload: loadClusters,
          }}
        />
      );
      break;
    case PATHS.newCluster:
      page = canCreate ? (
        <CreateClusterPage
          onCreated={(created) => {
            if (created.privateKey) setCreatedKey({ ...created, privateKey: created.privateKey });
            loadClusters();
            navigate(clusterPath(created.clusterId));
          }}
        />
      ) : (
        <NotFoundPage operatorOnly />
      );
      break;
    case PATHS.clusters + '/:id':
      page = (
        <ClusterPage
          clusterId={clusterId as string}
          createdKey={createdKey}
          onDismissKey={() => setCreatedKey(undefined)}
          onChanged={loadClusters}
          onDeleted={() => {
            loadClusters();
            navigate(PATHS.clusters);
          }}
        />
      );
      break;
    case PATHS.tokens:
      page = <TokensPage cluster={active} userName={session.user.name} />;
      break;
    case PATHS.kubeconfig:
      page = needsCluster((c) => <KubeconfigPage cluster={c} />);
      break;
    case PATHS.services:
      page = needsCluster((c) => <ServicesPage cluster={c} />);
      break;
    case PATHS.adminOverview:
      page = needsAdmin((c) => <AdminOverviewPage cluster={c} />);
      break;
    case PATHS.adminServices:
      page = needsAdmin((c) => <AdminServicesPage cluster={c} />);
      break;
    case PATHS.adminRoleBindings:
      page = needsAdmin((c) => <AdminRoleBindingsPage cluster={c} />);
      break;
    case PATHS.adminTokens:
      page = needsAdmin((c) => <AdminTokensPage cluster={c} />);
      break;
    case PATHS.adminAudit:
      page = needsAdmin((c) => <AdminAuditPage cluster={c} />);
      break;
    default:
      page = <NotFoundPage />;
  }

  return (
    <AppLayout
      path={path}
      user={session.user}
      clusters={clusters}
      clusterError={clusterError}
      onRetryClusters={loadClusters}
      onSelectCluster={selectCluster}
      onLogout={logout}
    >
      {page}
    </AppLayout>
  );
}
