/** Workloads the drain suites put on kwok nodes (their images never need to exist). */

/**
 * A Deployment `web` of `replicas` pods in `default` and a PodDisruptionBudget keeping `minAvailable`
 * of them: what a drain must honour.
 */
export function webBehindBudget(replicas: number, minAvailable: number): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.invalid/web:1}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: default}
spec:
  minAvailable: ${minAvailable}
  selector: {matchLabels: {app: web}}
`;
}
