/**
 * A Helm template renderer for exactly the Go-template subset deploy/helm/kaas uses, so the chart
 * is rendered and checked in tests where no `helm` binary can be installed (Debian 12 ships none,
 * npm has none). Anything outside the subset is an error, never a guess:
 *
 *   {{ .Values.a.b }}  {{ .Release.Name }}  {{ .Release.Namespace }}  {{ .Chart.Name|Version|AppVersion }}
 *   {{ X | quote }}  {{ X | int64 }}  {{ toYaml .Values.x | nindent N }}  {{ include "name" . | nindent N }}
 *   {{ if X }} … {{ else }} … {{ end }}  {{ define "name" }} … {{ end }}  {{/* comment *\/}}
 *   {{- and -}} whitespace trimming
 *
 * Semantics follow Helm 3: values numbers are float64 (so 1000000 prints as 1e+06, as Helm does),
 * `quote` is Go's %q of the value's %v, `int64` is Sprig's (an integer prints without exponent), `toYaml` drops the final newline, `nindent` indents every
 * line. One deliberate difference: a missing value in output is an error here (Helm prints "").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';

type Pipeline = { stages: string[][]; source: string };
type Node =
  | { t: 'text'; text: string }
  | { t: 'out'; pipe: Pipeline }
  | { t: 'if'; cond: Pipeline; then: Node[]; else: Node[] };

/** The objects Helm gives templates (the part the chart uses). */
export interface RenderContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string; Service: 'Helm' };
  Chart: { Name: string; Version: string; AppVersion: string };
}

/** A parsed set of templates: each file's nodes and every `define`d template. */
export interface Templates {
  files: Map<string, Node[]>;
  defines: Map<string, Node[]>;
}

class TemplateError extends Error {}

const WS = /[ \t\r\n]/;

function splitOutside(text: string, sep: (c: string) => boolean): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (!quoted && sep(c)) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new TemplateError(`unterminated string in "${text}"`);
  parts.push(cur);
  return parts;
}

function pipeline(source: string): Pipeline {
  const stages = splitOutside(source, (c) => c === '|').map((s) =>
    splitOutside(s.trim(), (c) => WS.test(c)).filter((w) => w !== ''),
  );
  if (stages.some((s) => s.length === 0)) throw new TemplateError(`empty pipeline stage in "${source}"`);
  return { stages, source };
}

/** Parses one template file; `defines` collects its named templates. */
export function parseTemplate(source: string, file: string, defines: Map<string, Node[]>): Node[] {
  const root: Node[] = [];
  type Frame = {
    kind: 'root' | 'define' | 'if';
    nodes: Node[];
    node?: Extract<Node, { t: 'if' }>;
    name?: string;
  };
  const stack: Frame[] = [{ kind: 'root', nodes: root }];
  const top = () => stack[stack.length - 1] as Frame;
  let pos = 0;
  let trimNext = false;
  const fail = (msg: string): never => {
    const line = source.slice(0, pos).split('\n').length;
    throw new TemplateError(`${file}:${line}: ${msg}`);
  };
  while (pos <= source.length) {
    const open = source.indexOf('{{', pos);
    let text = source.slice(pos, open === -1 ? undefined : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    let action = '';
    let trimBefore = false;
    if (open !== -1) {
      const close = source.indexOf('}}', open);
      if (close === -1) fail('unclosed action');
      action = source.slice(open + 2, close);
      trimBefore = /^-[ \t\r\n]/.test(action);
      trimNext = /[ \t\r\n]-$/.test(action);
      action = action.slice(trimBefore ? 2 : 0, trimNext ? -2 : undefined).trim();
      if (trimBefore) text = text.replace(/[ \t\r\n]+$/, '');
      pos = close + 2;
    }
    if (text !== '') top().nodes.push({ t: 'text', text });
    if (open === -1) break;
    if (action.startsWith('/*')) {
      if (!action.endsWith('*/')) fail('comment must end with */ right before }}');
      continue;
    }
    const words = action.split(/\s+/);
    const keyword = words[0];
    if (keyword === 'define') {
      const name = /^define\s+"([^"]+)"$/.exec(action)?.[1];
      if (!name || stack.length !== 1) fail(`bad define "${action}" (top level, one quoted name)`);
      stack.push({ kind: 'define', nodes: [], name: name as string });
    } else if (keyword === 'if') {
      const node: Extract<Node, { t: 'if' }> = {
        t: 'if',
        cond: pipeline(action.slice(2)),
        then: [],
        else: [],
      };
      top().nodes.push(node);
      stack.push({ kind: 'if', nodes: node.then, node });
    } else if (keyword === 'else' && action === 'else') {
      const frame = top();
      if (frame.kind !== 'if' || !frame.node || frame.nodes === frame.node.else) fail('else outside if');
      frame.nodes = (frame.node as Extract<Node, { t: 'if' }>).else;
    } else if (keyword === 'end' && action === 'end') {
      const frame = stack.pop() as Frame;
      if (frame.kind === 'root') fail('end without if or define');
      if (frame.kind === 'define') {
        if (defines.has(frame.name as string)) fail(`template "${frame.name}" defined twice`);
        defines.set(frame.name as string, frame.nodes);
      }
    } else if (
      ['range', 'with', 'block', 'template', 'else if', 'break', 'continue'].includes(keyword ?? '')
    ) {
      fail(`"${keyword}" is outside the supported template subset`);
    } else {
      top().nodes.push({ t: 'out', pipe: pipeline(action) });
    }
  }
  if (stack.length !== 1) throw new TemplateError(`${file}: missing {{ end }} for ${top().kind}`);
  return root;
}

/** Go's %v of a YAML-decoded value as Helm holds it (numbers are float64). */
export function goString(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TemplateError(`${where}: non-finite number`);
    const exp = value === 0 ? 0 : Math.floor(Math.log10(Math.abs(value)));
    // strconv.FormatFloat(v, 'g', -1, 64): exponent form when exp < -4 or exp >= 6 (shortest).
    if (exp < -4 || exp >= 6) {
      const [mantissa, e] = value.toExponential().split('e') as [string, string];
      const sign = e.startsWith('-') ? '-' : '+';
      const digits = e.replace(/^[+-]/, '').padStart(2, '0');
      return `${mantissa}e${sign}${digits}`;
    }
    return String(value);
  }
  throw new TemplateError(`${where}: cannot print ${value === null ? 'null' : typeof value} as text`);
}

function lookup(ctx: RenderContext, path: string, where: string, allowMissingLeaf: boolean): unknown {
  if (!path.startsWith('.') || path === '.')
    throw new TemplateError(`${where}: "${path}" is not a value path`);
  const keys = path.slice(1).split('.');
  if (!['Values', 'Release', 'Chart'].includes(keys[0] as string)) {
    throw new TemplateError(`${where}: ".${keys[0]}" is outside the supported template subset`);
  }
  let cur: unknown = ctx;
  for (const [i, key] of keys.entries()) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) {
      throw new TemplateError(`${where}: nil pointer evaluating ${path} at "${key}"`);
    }
    if (!Object.hasOwn(cur, key)) {
      if (allowMissingLeaf && i === keys.length - 1) return undefined;
      throw new TemplateError(`${where}: ${path} is not set`);
    }
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function toYaml(v: unknown): string {
  return stringify(v, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, '');
}

/** Sprig's int64 (cast.ToInt64): a Go int64, kept as a bigint so it prints without an exponent. */
function int64(v: unknown, where: string): bigint {
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw new TemplateError(`${where}: int64 of ${JSON.stringify(v)} (Helm would silently give 0)`);
}

function quote(v: unknown, where: string): string {
  if (v === undefined || v === null) return '';
  const s = goString(v, where);
  if (!/^[\x20-\x7e]*$/.test(s)) throw new TemplateError(`${where}: quote of non-printable-ASCII text`);
  return JSON.stringify(s);
}

function evaluate(t: Templates, ctx: RenderContext, pipe: Pipeline, where: string, inIf: boolean): unknown {
  const [first, ...rest] = pipe.stages as [string[], ...string[][]];
  let value: unknown;
  const [head, ...args] = first;
  if (head === 'include') {
    const name = /^"([^"]+)"$/.exec(args[0] ?? '')?.[1];
    if (!name || args.length !== 2 || args[1] !== '.') {
      throw new TemplateError(`${where}: include takes a quoted name and "." (${pipe.source})`);
    }
    const body = t.defines.get(name);
    if (!body) throw new TemplateError(`${where}: no template "${name}"`);
    value = renderNodes(t, ctx, body, `${where} > ${name}`);
  } else if (head === 'toYaml') {
    if (args.length !== 1) throw new TemplateError(`${where}: toYaml takes one value (${pipe.source})`);
    value = toYaml(lookup(ctx, args[0] as string, where, false));
  } else if (head?.startsWith('.') && args.length === 0) {
    value = lookup(ctx, head, where, inIf && rest.length === 0);
  } else if (head && /^"[^"]*"$/.test(head) && args.length === 0) {
    value = head.slice(1, -1);
  } else {
    throw new TemplateError(`${where}: "${pipe.source}" is outside the supported template subset`);
  }
  for (const [fn, ...fnArgs] of rest) {
    if (fn === 'quote' && fnArgs.length === 0) value = quote(value, where);
    else if (fn === 'int64' && fnArgs.length === 0) value = int64(value, where);
    else if (fn === 'nindent' && fnArgs.length === 1 && /^\d+$/.test(fnArgs[0] as string)) {
      const pad = ' '.repeat(Number(fnArgs[0]));
      value = `\n${pad}${goString(value, where).replaceAll('\n', `\n${pad}`)}`;
    } else {
      throw new TemplateError(`${where}: "| ${[fn, ...fnArgs].join(' ')}" is outside the supported subset`);
    }
  }
  return value;
}

function renderNodes(t: Templates, ctx: RenderContext, nodes: Node[], where: string): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.text;
    else if (n.t === 'out') {
      const v = evaluate(t, ctx, n.pipe, where, false);
      if (v === undefined) throw new TemplateError(`${where}: ${n.pipe.source} has no value`);
      out += goString(v, where);
    } else {
      const branch = truthy(evaluate(t, ctx, n.cond, where, true)) ? n.then : n.else;
      out += renderNodes(t, ctx, branch, where);
    }
  }
  return out;
}

/** Deep-merges `over` into `base` as Helm merges -f/--set values (null deletes a key). */
export function mergeValues(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v === null) delete out[k];
    else if (
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      b &&
      typeof b === 'object' &&
      !Array.isArray(b)
    ) {
      out[k] = mergeValues(b as Record<string, unknown>, v as Record<string, unknown>);
    } else out[k] = v;
  }
  return out;
}

/** A Kubernetes object from the rendered chart, with the template file it came from. */
export interface RenderedObject {
  file: string;
  object: { apiVersion: string; kind: string; metadata: { name: string } & Record<string, unknown> } & Record<
    string,
    unknown
  >;
}

/** Chart.yaml fields the renderer and lint use. */
export interface ChartMeta {
  apiVersion: string;
  name: string;
  version: string;
  appVersion: string;
  [key: string]: unknown;
}

/** Reads Chart.yaml, values.yaml and parses every template of the chart in `dir`. */
export function loadChart(dir: string): {
  chart: ChartMeta;
  values: Record<string, unknown>;
  templates: Templates;
} {
  const chart = parseYaml(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as ChartMeta;
  const values = (parseYaml(readFileSync(join(dir, 'values.yaml'), 'utf8')) ?? {}) as Record<string, unknown>;
  const templates: Templates = { files: new Map(), defines: new Map() };
  const names = readdirSync(join(dir, 'templates')).sort();
  for (const name of names) {
    if (!/\.(ya?ml|tpl)$/.test(name)) throw new TemplateError(`templates/${name}: unexpected file`);
    const nodes = parseTemplate(
      readFileSync(join(dir, 'templates', name), 'utf8'),
      `templates/${name}`,
      templates.defines,
    );
    templates.files.set(`templates/${name}`, nodes);
  }
  return { chart, values, templates };
}

/** `helm template` for the subset: renders every non-partial template with merged values. */
export function renderChart(
  dir: string,
  options: { releaseName: string; namespace?: string; values?: Record<string, unknown> },
): RenderedObject[] {
  const { chart, values, templates } = loadChart(dir);
  const ctx: RenderContext = {
    Values: mergeValues(values, options.values ?? {}),
    Release: { Name: options.releaseName, Namespace: options.namespace ?? 'default', Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const objects: RenderedObject[] = [];
  for (const [file, nodes] of templates.files) {
    const base = file.split('/').pop() as string;
    const text = renderNodes(templates, ctx, nodes, file);
    if (base.startsWith('_')) {
      if (text.trim() !== '') throw new TemplateError(`${file}: a partial must render nothing`);
      continue;
    }
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0)
        throw new TemplateError(`${file}: invalid YAML: ${doc.errors[0]?.message}\n${text}`);
      const object = doc.toJS() as RenderedObject['object'] | null;
      if (object === null) continue;
      objects.push({ file, object });
    }
  }
  return objects;
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/**
 * The checks `helm lint` makes that apply to this chart: Chart.yaml (apiVersion v2, name equal to
 * the directory, SemVer version, appVersion), values.yaml parses, every template renders, and each
 * object has apiVersion, kind and a valid DNS-1123 metadata.name. Returns the problems found.
 */
export function lintChart(dir: string, values: Record<string, unknown> = {}): string[] {
  const problems: string[] = [];
  let meta: ChartMeta;
  try {
    meta = loadChart(dir).chart;
  } catch (error) {
    return [(error as Error).message];
  }
  if (meta.apiVersion !== 'v2') problems.push('Chart.yaml: apiVersion must be v2');
  if (meta.name !== dir.split('/').filter(Boolean).pop())
    problems.push('Chart.yaml: name must match the directory');
  if (typeof meta.version !== 'string' || !SEMVER.test(meta.version))
    problems.push('Chart.yaml: version must be SemVer');
  if (typeof meta.appVersion !== 'string' || meta.appVersion === '')
    problems.push('Chart.yaml: appVersion is required');
  let objects: RenderedObject[] = [];
  try {
    objects = renderChart(dir, { releaseName: 'lint', values });
  } catch (error) {
    problems.push((error as Error).message);
  }
  for (const { file, object } of objects) {
    if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
      problems.push(`${file}: object without apiVersion/kind`);
    }
    const name = object.metadata?.name;
    if (typeof name !== 'string' || name.length > 63 || !DNS1123.test(name)) {
      problems.push(
        `${file}: metadata.name "${String(name)}" is not a DNS-1123 name of at most 63 characters`,
      );
    }
  }
  return problems;
}
