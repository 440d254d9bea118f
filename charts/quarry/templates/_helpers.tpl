{{/* The release's full name, shared by the operator's objects. */}}
{{- define "quarry.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "quarry.labels" -}}
app.kubernetes.io/name: quarry-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "quarry.selector" -}}
app.kubernetes.io/name: quarry-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "quarry.serviceAccount" -}}
{{- default (include "quarry.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The one namespace watched in namespace mode. */}}
{{- define "quarry.watchNamespace" -}}
{{- default .Release.Namespace .Values.watch.namespace -}}
{{- end -}}

{{/* What the operator may do to the objects it manages (shared by the Role and ClusterRole). */}}
{{- define "quarry.managedRules" -}}
# only what the operator does: its own resources in full; the objects it renders are
# server-side applied (patch creates them), watched, and removed by owner references (only
# autoscalers are deleted by the operator itself); Secrets it reads, or creates once
- apiGroups: [quarry.dev]
  resources: [quarryclusters, nodepools, collections, indexes]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [quarry.dev]
  resources: [quarryclusters/status, nodepools/status, collections/status, indexes/status, collections/finalizers, indexes/finalizers]
  verbs: [get, update, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, patch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, patch]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, patch]
- apiGroups: [""]
  resources: [services, configmaps]
  verbs: [get, list, watch, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
