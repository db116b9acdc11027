import { useEffect, useState } from 'react';

/** Every page of the panel, by path. Admin paths live under /admin/. */
export const PATHS = {
  login: '/login',
  clusters: '/clusters',
  newCluster: '/clusters/new',
  tokens: '/tokens',
  kubeconfig: '/kubeconfig',
  services: '/services',
  adminOverview: '/admin/overview',
  adminServices: '/admin/services',
  adminRoleBindings: '/admin/role-bindings',
  adminTokens: '/admin/tokens',
  adminAudit: '/admin/audit',
} as const;

/** The page of one cluster (administrators: its progress and operations). */
export const clusterPath = (id: string) => `${PATHS.clusters}/${encodeURIComponent(id)}`;

/** The cluster id of a cluster page's path, or undefined for any other path. */
export function clusterIdOf(path: string): string | undefined {
  const match = /^\/clusters\/([^/]+)$/.exec(path);
  return match?.[1] && path !== PATHS.newCluster ? decodeURIComponent(match[1]) : undefined;
}

const listeners = new Set<() => void>();

/** Client-side navigation (History API); the server answers any of these paths with index.html. */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  listeners.forEach((l) => l());
}

/** The current path, re-rendering on navigation and on back/forward. */
export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

/** Props for an <a> that navigates in-app on a plain click and still works with modifier keys. */
export function linkProps(path: string): { href: string; onClick: (e: React.SyntheticEvent) => void } {
  return {
    href: path,
    onClick: (e) => {
      const m = e as React.MouseEvent;
      if (m.metaKey || m.ctrlKey || m.shiftKey || (m.button !== undefined && m.button !== 0)) return;
      e.preventDefault();
      navigate(path);
    },
  };
}
