{{/* The release's full name: the release name when it already says orrery. */}}
{{- define "orrery.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "orrery.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "orrery.labels" -}}
{{ include "orrery.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "orrery.serviceAccountName" -}}
{{- default (include "orrery.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "orrery.adminSecretName" -}}
{{- default (printf "%s-admin" (include "orrery.fullname" .)) .Values.admin.existingSecret -}}
{{- end -}}

{{/* The platform keeps its objects in kubesphere-system (KubeSphere's namespace). */}}
{{- define "orrery.namespace" -}}
{{- if ne .Release.Namespace "kubesphere-system" -}}
{{- fail (printf "install Orrery into the namespace kubesphere-system (-n kubesphere-system), not %q: the platform keeps its Lease, keys and TLS pair there" .Release.Namespace) -}}
{{- end -}}
{{- .Release.Namespace -}}
{{- end -}}
