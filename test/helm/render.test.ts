import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { goString, lintChart, mergeValues, renderChart } from './render.ts';

/** Writes a one-off chart named `demo` and returns its directory. */
function chart(templates: Record<string, string>, values = 'a: 1\n', meta = ''): string {
  const root = mkdtempSync(join(tmpdir(), 'kaas-helm-'));
  const dir = join(root, 'demo');
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(
    join(dir, 'Chart.yaml'),
    meta || 'apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: "9.9"\n',
  );
  writeFileSync(join(dir, 'values.yaml'), values);
  for (const [name, text] of Object.entries(templates)) writeFileSync(join(dir, 'templates', name), text);
  return dir;
}

/** Renders one template to text through a ConfigMap wrapper. */
function text(template: string, values: string, over: Record<string, unknown> = {}): string {
  const dir = chart(
    {
      'cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  out: |-\n    ${template}\n`,
    },
    values,
  );
  const [o] = renderChart(dir, { releaseName: 'rel', values: over });
  return (o?.object.data as { out: string }).out;
}

describe('Go-template subset', () => {
  it('prints values, release and chart fields as Helm does', () => {
    expect(text('{{ .Values.s }} {{ .Values.n }} {{ .Values.b }}', 's: hi\nn: 30000\nb: true\n')).toBe(
      'hi 30000 true',
    );
    expect(
      text('{{ .Release.Name }}/{{ .Release.Namespace }} {{ .Chart.Name }}-{{ .Chart.Version }}', ''),
    ).toBe('rel/default demo-1.2.3');
    expect(text('{{ .Chart.AppVersion | quote }}', '')).toBe('"9.9"');
  });

  it('formats numbers as Go float64 (the Helm scientific-notation pitfall) unless int64', () => {
    expect(goString(1_000_000, 't')).toBe('1e+06');
    expect(goString(3_600_000, 't')).toBe('3.6e+06');
    expect(goString(999_999, 't')).toBe('999999');
    expect(goString(0.5, 't')).toBe('0.5');
    expect(goString(0.00001, 't')).toBe('1e-05');
    expect(text('{{ .Values.n | quote }} {{ .Values.n | int64 | quote }}', 'n: 3600000\n')).toBe(
      '"3.6e+06" "3600000"',
    );
    expect(text('{{ .Values.n | int64 }}', 'n: "42"\n')).toBe('42');
    expect(() => text('{{ .Values.n | int64 }}', 'n: abc\n')).toThrow(/int64 of "abc"/);
  });

  it('quotes like Go %q and gives "" for null', () => {
    expect(
      text('{{ .Values.s | quote }}|{{ .Values.z | quote }}', 's: \'say "hi" \\ there\'\nz: null\n'),
    ).toBe('"say \\"hi\\" \\\\ there"|');
    expect(() => text('{{ .Values.s | quote }}', 's: "caf\\u00e9"\n')).toThrow(/non-printable-ASCII/);
  });

  it('trims whitespace around {{- and -}} and drops comments', () => {
    expect(text('a   {{- .Values.s -}}   b', 's: X\n')).toBe('aXb');
    expect(text('a {{/* note */}}b{{- /* gone */ -}} c', '')).toBe('a bc');
  });

  it('renders if / else / end with Go truthiness, a missing leaf being false', () => {
    const t = '{{ if .Values.v }}yes{{ else }}no{{ end }}';
    for (const [v, want] of [
      ['v: true', 'yes'],
      ['v: x', 'yes'],
      ['v: [1]', 'yes'],
      ['v: {k: 1}', 'yes'],
      ['v: false', 'no'],
      ['v: 0', 'no'],
      ['v: ""', 'no'],
      ['v: []', 'no'],
      ['v: {}', 'no'],
      ['v: null', 'no'],
      ['other: 1', 'no'],
    ]) {
      expect(text(t, `${v}\n`), v).toBe(want);
    }
    expect(() => text('{{ if .Values.a.b }}x{{ end }}', 'a: 1\n')).toThrow(
      /nil pointer evaluating \.Values\.a\.b/,
    );
  });

  it('renders toYaml | nindent and include of a define', () => {
    const dir = chart({
      '_h.tpl': '{{- define "demo.labels" -}}\napp: demo\nrel: {{ .Release.Name }}\n{{- end }}\n',
      'cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n    {{- include "demo.labels" . | nindent 4 }}\n  annotations:\n    {{- toYaml .Values.ann | nindent 4 }}\n',
    });
    const [o] = renderChart(dir, { releaseName: 'r1', values: { ann: { z: 'last', a: 'first', n: 1 } } });
    expect(o?.object.metadata).toEqual({
      name: 'cm',
      labels: { app: 'demo', rel: 'r1' },
      annotations: { a: 'first', n: 1, z: 'last' },
    });
  });

  it('merges override values as Helm does (maps deep, lists replaced, null deletes)', () => {
    expect(
      mergeValues({ a: { b: 1, c: [1, 2], d: 'x' }, e: 1 }, { a: { b: 2, c: [3], d: null }, f: true }),
    ).toEqual({ a: { b: 2, c: [3] }, e: 1, f: true });
  });

  it('refuses everything outside the subset with the file and line', () => {
    const bad = (template: string) => () => text(template, 'list: [1]\ns: x\n');
    expect(bad('{{ range .Values.list }}x{{ end }}')).toThrow(/templates\/cm\.yaml:\d+: "range" is outside/);
    expect(bad('{{ with .Values.s }}x{{ end }}')).toThrow(/"with" is outside/);
    expect(bad('{{ printf "%s" .Values.s }}')).toThrow(/outside the supported template subset/);
    expect(bad('{{ .Values.s | upper }}')).toThrow(/"\| upper" is outside/);
    expect(bad('{{ .Capabilities.KubeVersion }}')).toThrow(/"\.Capabilities" is outside/);
    expect(bad('{{ .Values.missing }}')).toThrow(/\.Values\.missing is not set/);
    expect(bad('{{ .Values.list }}')).toThrow(/cannot print object as text/);
    expect(bad('{{ include "nope" . }}')).toThrow(/no template "nope"/);
    expect(bad('{{ include "x" .Values }}')).toThrow(/include takes a quoted name and "\."/);
    expect(bad('{{ toYaml }}')).toThrow(/toYaml takes one value/);
    expect(bad('{{ else }}')).toThrow(/else outside if/);
    expect(bad('{{ end }}')).toThrow(/end without if or define/);
    expect(bad('{{ if .Values.s }}x')).toThrow(/missing \{\{ end \}\}/);
    expect(bad('{{ .Values.s ')).toThrow(/unclosed action/);
    expect(bad('{{ "open }}')).toThrow(/unterminated string/);
    expect(bad('{{ .Values.s | }}')).toThrow(/empty pipeline stage/);
    expect(bad('{{/* open }}')).toThrow(/comment must end/);
  });

  it('rejects defines in odd places and partials that print', () => {
    expect(() =>
      renderChart(chart({ '_h.tpl': '{{ define "a" }}{{ define "b" }}{{ end }}{{ end }}' }), {
        releaseName: 'r',
      }),
    ).toThrow(/bad define/);
    expect(() =>
      renderChart(chart({ '_h.tpl': '{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}' }), {
        releaseName: 'r',
      }),
    ).toThrow(/defined twice/);
    expect(() => renderChart(chart({ '_h.tpl': 'stray text' }), { releaseName: 'r' })).toThrow(
      /a partial must render nothing/,
    );
    expect(() => renderChart(chart({ 'notes.txt': 'x' }), { releaseName: 'r' })).toThrow(/unexpected file/);
    expect(() => renderChart(chart({ 'bad.yaml': 'a: [1\n' }), { releaseName: 'r' })).toThrow(/invalid YAML/);
  });
});

describe('lintChart', () => {
  const ok = { 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n' };

  it('passes a well-formed chart and skips empty documents', () => {
    expect(lintChart(chart({ ...ok, 'empty.yaml': '{{ if .Values.off }}x: 1{{ end }}\n---\n' }))).toEqual([]);
  });

  it('reports Chart.yaml problems, render errors and bad object names', () => {
    expect(lintChart(chart(ok, 'a: 1\n', 'apiVersion: v1\nname: other\nversion: one\n'))).toEqual([
      'Chart.yaml: apiVersion must be v2',
      'Chart.yaml: name must match the directory',
      'Chart.yaml: version must be SemVer',
      'Chart.yaml: appVersion is required',
    ]);
    expect(lintChart(chart({ 'cm.yaml': '{{ .Values.nope }}' }))).toEqual([
      expect.stringMatching(/\.Values\.nope is not set/),
    ]);
    expect(
      lintChart(
        chart({ 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n---\nfoo: 1\n' }),
      ),
    ).toEqual([
      'templates/cm.yaml: metadata.name "Bad_Name" is not a DNS-1123 name of at most 63 characters',
      'templates/cm.yaml: object without apiVersion/kind',
      'templates/cm.yaml: metadata.name "undefined" is not a DNS-1123 name of at most 63 characters',
    ]);
    expect(lintChart(join(tmpdir(), 'no-such-chart'))).toEqual([expect.stringMatching(/ENOENT/)]);
  });
});
