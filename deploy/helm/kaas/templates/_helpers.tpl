{{/* Labels on every object of the release. */}}
{{- define "kaas.labels" -}}
app.kubernetes.io/name: kaas
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: Helm
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The subset of the labels that selects the kaas pods (immutable once deployed). */}}
{{- define "kaas.selectorLabels" -}}
app.kubernetes.io/name: kaas
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}
