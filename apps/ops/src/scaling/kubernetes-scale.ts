import type { AppsV1Api } from '@kubernetes/client-node';
import type { ScaleTarget } from '@hms/contracts';
import type { OpsConfig } from '../ops.config';

/** Reads and writes `spec.replicas` of a Deployment through its scale subresource. */
export interface DeploymentScaler {
  replicas(target: ScaleTarget): Promise<number>;
  scale(target: ScaleTarget, replicas: number): Promise<void>;
}

type KubernetesSettings = Pick<OpsConfig, 'OPS_KUBECONFIG' | 'KUBERNETES_SERVICE_HOST' | 'OPS_KUBERNETES_TIMEOUT_MS'>;

type KubernetesClient = typeof import('@kubernetes/client-node');

/**
 * The client is an ES module, loaded only by an OPS that has a Kubernetes API to talk to: the
 * rest of OPS (and the tests that load it in-process) never pays for it.
 */
function loadKubernetesClient(): Promise<KubernetesClient> {
  return import('@kubernetes/client-node');
}

/**
 * The scaler for the Kubernetes API OPS is given: the kubeconfig in `OPS_KUBECONFIG` (OPS outside
 * the cluster, or through `kubectl proxy`), else inside a pod its own service account, else null.
 * Not `~/.kube/config` or `KUBECONFIG`: a developer's `npm start` must not scale whatever cluster
 * their shell points at.
 */
export async function deploymentScalerFor(config: KubernetesSettings): Promise<{ scaler: DeploymentScaler; describe: string } | null> {
  if (!config.OPS_KUBECONFIG && !config.KUBERNETES_SERVICE_HOST) return null;
  const client = await loadKubernetesClient();
  const kubeConfig = new client.KubeConfig();
  let describe: string;
  if (config.OPS_KUBECONFIG) {
    kubeConfig.loadFromFile(config.OPS_KUBECONFIG);
    const server = kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error(`${config.OPS_KUBECONFIG} names no current cluster`);
    describe = `${server} (${config.OPS_KUBECONFIG})`;
  } else {
    // The service account's token file, re-read as the kubelet rotates it, and the cluster CA.
    kubeConfig.loadFromCluster();
    describe = 'the in-cluster API';
  }
  return { scaler: new KubernetesDeploymentScaler(client, kubeConfig.makeApiClient(client.AppsV1Api), config.OPS_KUBERNETES_TIMEOUT_MS), describe };
}

/** Why a call failed, in one line: a Kubernetes Status says it in `message` (forbidden, not found). */
function describeFailure(client: KubernetesClient, call: string, error: unknown): string {
  if (error instanceof client.ApiException) {
    let message: unknown;
    try {
      message = (JSON.parse(String(error.body)) as { message?: unknown }).message;
    } catch {
      message = undefined;
    }
    return `${call} answered ${error.code}${typeof message === 'string' ? `: ${message}` : ''}`;
  }
  return `${call}: ${(error as Error).message}`;
}

/** The scale subresource through `@kubernetes/client-node`; RBAC (`deploy/base/ops/rbac.yaml`) allows get and patch on it, nothing else. */
class KubernetesDeploymentScaler implements DeploymentScaler {
  constructor(
    private readonly client: KubernetesClient,
    private readonly apps: AppsV1Api,
    private readonly timeoutMs: number,
  ) {}

  async replicas(target: ScaleTarget): Promise<number> {
    const scale = await this.call('GET', target, () => this.apps.readNamespacedDeploymentScale({ name: target.deployment, namespace: target.namespace }));
    // A Deployment created without replicas has none in its spec: Kubernetes' default is 1.
    return scale.spec?.replicas ?? 1;
  }

  async scale(target: ScaleTarget, replicas: number): Promise<void> {
    await this.call('PATCH', target, () =>
      this.apps.patchNamespacedDeploymentScale(
        { name: target.deployment, namespace: target.namespace, body: { spec: { replicas } } },
        this.client.setHeaderOptions('Content-Type', this.client.PatchStrategy.MergePatch),
      ),
    );
  }

  private async call<T>(method: string, target: ScaleTarget, send: () => Promise<T>): Promise<T> {
    const call = `${method} /apis/apps/v1/namespaces/${target.namespace}/deployments/${target.deployment}/scale`;
    let timer: NodeJS.Timeout | undefined;
    try {
      // The client has no per-call timeout: stop waiting (the round's lock is held meanwhile), and try again next round.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      return await Promise.race([send(), timeout]);
    } catch (error) {
      throw new Error(describeFailure(this.client, call, error));
    } finally {
      clearTimeout(timer);
    }
  }
}
