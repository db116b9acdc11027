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
import { api } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { PageView } from '../components/PageView.tsx';
import { saveFile } from '../format.ts';

/** Kubeconfig downloads for the active cluster: exec plugin (recommended) or a fresh embedded token. */
export function KubeconfigPage(props: { cluster: ClusterContext }) {
  const { cluster } = props;
  const [busy, setBusy] = useState<'exec' | 'token'>();
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const file = `kubeconfig-${cluster.name}.yaml`;

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
        saveFile(file, await api.kubeconfigWithToken(cluster.id, token.token));
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
            <CodeBlock>
              <CodeBlockCode>{`export KUBECONFIG=~/Downloads/${file}\nkubectl get nodes`}</CodeBlockCode>
            </CodeBlock>
          </CardBody>
          <CardFooter>
            <Button
              icon={<DownloadIcon />}
              onClick={() => run('exec')}
              isLoading={busy === 'exec'}
              isDisabled={!!busy}
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
              isDisabled={!!busy}
            >
              Create token and download
            </Button>
          </CardFooter>
        </Card>
      </Gallery>
    </PageView>
  );
}
