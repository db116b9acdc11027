import {
  Alert,
  Button,
  Card,
  CardBody,
  CardFooter,
  CardTitle,
  CodeBlock,
  CodeBlockCode,
  Content,
  Gallery,
  Label,
} from '@patternfly/react-core';
import DownloadIcon from '@patternfly/react-icons/dist/esm/icons/download-icon';
import { useState } from 'react';
import { ApiError, api } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { PageView } from '../components/PageView.tsx';
import { saveFile } from '../format.ts';
import { useLoad } from '../useLoad.ts';

/** Kubeconfig downloads for the active cluster: exec plugin (recommended) or a fresh embedded token. */
export function KubeconfigPage(props: { cluster: ClusterContext }) {
  const { cluster } = props;
  const [busy, setBusy] = useState<'exec' | 'token'>();
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const file = `kubeconfig-${cluster.name}.yaml`;
  // The exec kubeconfig holds no secret, so asking for it is how the page learns the cluster has an API
  // address; until it has, both downloads are off and say why.
  const probe = useLoad(() => api.kubeconfigExec(cluster.id), cluster.id);
  const unavailable =
    probe.error instanceof ApiError && probe.error.code === 'cluster_not_provisioned'
      ? probe.error.message
      : undefined;
  const off = !!busy || probe.loading || unavailable !== undefined;

  const run = async (mode: 'exec' | 'token') => {
    setBusy(mode);
    setError(undefined);
    setDone(undefined);
    try {
      if (mode === 'exec') {
        saveFile(file, await api.kubeconfigExec(cluster.id));
        setDone(`Downloaded ${file}. kubectl will ask the kaas CLI for a token when it needs one.`);
      } else {
        const stamp = new Date().toISOString().slice(0, 10);
        // A kubeconfig names one cluster, so its token is valid on that cluster only.
        const token = await api.createToken(`kubeconfig ${cluster.name} ${stamp}`, undefined, [cluster.id]);
        const kubeconfig = await api
          .kubeconfigWithToken(cluster.id, token.token)
          .catch(async (e: unknown) => {
            // No file, no token: one that nobody holds would only wait to leak.
            await api.deleteToken(token.id).catch(() => undefined);
            throw e;
          });
        saveFile(file, kubeconfig);
        setDone(
          `Downloaded ${file} with the new token "${token.name}". It is listed on the API tokens page.`,
        );
      }
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <PageView
      title="Kubeconfig"
      description={
        <>
          Connect kubectl to <strong>{cluster.name}</strong>. Save the file as <code>~/.kube/config</code> or
          point <code>KUBECONFIG</code> at it.
        </>
      }
    >
      {error && (
        <Alert variant="danger" isInline title="Download failed" className="kaas-login-alert">
          {error}
        </Alert>
      )}
      {unavailable && (
        <Alert variant="info" isInline title="No kubeconfig yet" className="kaas-login-alert">
          {unavailable}. The downloads are available once the cluster has an API address.
        </Alert>
      )}
      {done && <Alert variant="success" isInline title={done} className="kaas-login-alert" />}
      <Gallery hasGutter minWidths={{ default: '100%', lg: '360px' }}>
        <Card isFullHeight>
          <CardTitle>
            Exec plugin{' '}
            <Label color="green" isCompact>
              Recommended
            </Label>
          </CardTitle>
          <CardBody>
            <Content component="p">
              No secret in the file: kubectl runs <code>kaas credential</code>, which hands it a token on
              demand. Needs the kaas CLI on the machine.
            </Content>
            <CodeBlock className="kaas-command">
              <CodeBlockCode>{`export KUBECONFIG=~/Downloads/${file}\nkubectl get nodes`}</CodeBlockCode>
            </CodeBlock>
          </CardBody>
          <CardFooter>
            <Button
              icon={<DownloadIcon />}
              onClick={() => run('exec')}
              isLoading={busy === 'exec'}
              isDisabled={off}
            >
              Download (exec plugin)
            </Button>
          </CardFooter>
        </Card>
        <Card isFullHeight>
          <CardTitle>Embedded token</CardTitle>
          <CardBody>
            <Content component="p">
              Creates a new API token (valid one year) and writes it into the file. Works with plain kubectl
              and CI systems; keep the file as secret as a password.
            </Content>
          </CardBody>
          <CardFooter>
            <Button
              variant="secondary"
              icon={<DownloadIcon />}
              onClick={() => run('token')}
              isLoading={busy === 'token'}
              isDisabled={off}
            >
              Create token and download
            </Button>
          </CardFooter>
        </Card>
      </Gallery>
    </PageView>
  );
}
