import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ScaleTarget } from '@hms/contracts';
import type { OpsConfig } from '../ops.config';

/** Reads and writes `spec.replicas` of a Deployment through its scale subresource. */
export interface DeploymentScaler {
  replicas(target: ScaleTarget): Promise<number>;
  scale(target: ScaleTarget, replicas: number): Promise<void>;
}

/** The Kubernetes API answered with an error status, or could not be reached. */
export class KubernetesApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'KubernetesApiError';
  }
}

/** Where OPS reaches the Kubernetes API: the configured URL, else the in-cluster one, else none. */
export function kubernetesApiUrl(config: Pick<OpsConfig, 'OPS_KUBERNETES_API_URL' | 'KUBERNETES_SERVICE_HOST' | 'KUBERNETES_SERVICE_PORT'>): string | null {
  if (config.OPS_KUBERNETES_API_URL) return config.OPS_KUBERNETES_API_URL.replace(/\/+$/, '');
  if (!config.KUBERNETES_SERVICE_HOST) return null;
  const host = config.KUBERNETES_SERVICE_HOST.includes(':') ? `[${config.KUBERNETES_SERVICE_HOST}]` : config.KUBERNETES_SERVICE_HOST;
  return `https://${host}:${config.KUBERNETES_SERVICE_PORT ?? '443'}`;
}

function optionalFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The scale subresource over plain HTTPS with the pod's service account (`deploy/base/ops/rbac.yaml`
 * grants get and patch on `deployments/scale`, nothing else). A client library would add
 * kubeconfig parsing and watch machinery for two requests.
 */
export class KubernetesDeploymentScaler implements DeploymentScaler {
  private readonly ca: string | undefined;

  constructor(
    private readonly apiUrl: string,
    private readonly config: Pick<OpsConfig, 'OPS_KUBERNETES_TOKEN_FILE' | 'OPS_KUBERNETES_CA_FILE' | 'OPS_KUBERNETES_TIMEOUT_MS'>,
  ) {
    this.ca = optionalFile(config.OPS_KUBERNETES_CA_FILE);
  }

  async replicas(target: ScaleTarget): Promise<number> {
    const scale = await this.send('GET', target);
    const replicas = (scale as { spec?: { replicas?: unknown } }).spec?.replicas;
    // A Deployment created without replicas has none in its spec: Kubernetes' default is 1.
    return typeof replicas === 'number' ? replicas : 1;
  }

  async scale(target: ScaleTarget, replicas: number): Promise<void> {
    await this.send('PATCH', target, { spec: { replicas } });
  }

  private path(target: ScaleTarget): string {
    return `/apis/apps/v1/namespaces/${encodeURIComponent(target.namespace)}/deployments/${encodeURIComponent(target.deployment)}/scale`;
  }

  private send(method: 'GET' | 'PATCH', target: ScaleTarget, body?: unknown): Promise<unknown> {
    const url = new URL(this.path(target), this.apiUrl);
    const token = optionalFile(this.config.OPS_KUBERNETES_TOKEN_FILE);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/merge-patch+json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const describe = `${method} ${url.pathname}`;
    return new Promise((resolve, reject) => {
      const onResponse = (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => reject(new KubernetesApiError(`${describe}: ${error.message}`, null)));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = undefined;
          }
          if (status < 200 || status >= 300) {
            // A Kubernetes Status object says why (forbidden, not found) in `message`.
            const why = (parsed as { message?: unknown } | undefined)?.message;
            return reject(new KubernetesApiError(`${describe} answered ${status}${typeof why === 'string' ? `: ${why}` : ''}`, status));
          }
          if (parsed === undefined) return reject(new KubernetesApiError(`${describe} answered ${status} with a body that is not JSON`, status));
          resolve(parsed);
        });
      };
      const options = { method, headers, timeout: this.config.OPS_KUBERNETES_TIMEOUT_MS };
      const outgoing = url.protocol === 'https:' ? httpsRequest(url, { ...options, ca: this.ca }, onResponse) : httpRequest(url, options, onResponse);
      outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${this.config.OPS_KUBERNETES_TIMEOUT_MS} ms`)));
      outgoing.on('error', (error) => reject(new KubernetesApiError(`${describe}: ${error.message}`, null)));
      outgoing.end(payload);
    });
  }
}
