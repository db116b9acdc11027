/**
 * Validates a core Kubernetes object against the OpenAPI schema kubernetes-models ships for its
 * apiVersion and kind; throws naming what is wrong.
 */
export async function validateCoreObject(o: { apiVersion: string; kind: string }): Promise<void> {
  const mod = (await import(/* @vite-ignore */ `kubernetes-models/${o.apiVersion}/${o.kind}`)) as Record<
    string,
    new (data: unknown) => { validate(): void }
  >;
  const Model = mod[o.kind];
  if (!Model) throw new Error(`kubernetes-models has no ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}
