{{/* Names, labels and the rendered configuration shared by the templates. */}}

{{- define "kuberunner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kuberunner.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: the runner's pods only. Job pods carry kuberunner.io/* labels instead. */}}
{{- define "kuberunner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kuberunner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: runner
{{- end -}}

{{- define "kuberunner.labels" -}}
{{ include "kuberunner.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kuberunner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kuberunner.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kuberunner.jobNamespace" -}}
{{- default .Release.Namespace .Values.jobNamespace -}}
{{- end -}}

{{- define "kuberunner.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kuberunner.secretName" -}}
{{- default (printf "%s-config" (include "kuberunner.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{/*
kuberunner.validate fails the render on combinations the schema cannot explain well.
*/}}
{{- define "kuberunner.validate" -}}
{{- if and .Values.existingSecret (or .Values.runnerToken .Values.gitlabUrl) -}}
{{- fail "set either existingSecret (a Secret holding config.yaml) or gitlabUrl and runnerToken, not both" -}}
{{- end -}}
{{- if and (not .Values.existingSecret) (not (and .Values.gitlabUrl .Values.runnerToken)) -}}
{{- fail "set gitlabUrl and runnerToken (--set gitlabUrl=https://gitlab.example.com --set runnerToken=glrt-...), or existingSecret" -}}
{{- end -}}
{{- range $key := list "namespace" "helper_image" "image" -}}
{{- if hasKey $.Values.runners.kubernetes $key -}}
{{- fail (printf "runners.kubernetes.%s: set it with jobNamespace, runners.helperImage or runners.image instead" $key) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled: the ServiceMonitor scrapes its Service" -}}
{{- end -}}
{{- end -}}

{{/*
kuberunner.config is config.yaml when the chart makes the Secret. listen_address is fixed:
the probes, the Service and the annotations use port 9252.
*/}}
{{- define "kuberunner.config" -}}
{{- $kube := merge (dict
  "namespace" (include "kuberunner.jobNamespace" .)
  "helper_image" (default (include "kuberunner.image" .) .Values.runners.helperImage)
  "image" .Values.runners.image) (deepCopy .Values.runners.kubernetes) -}}
{{- $runner := dict "name" .Values.runners.name "url" .Values.gitlabUrl "token" .Values.runnerToken
  "executor" "kubernetes" "kubernetes" $kube -}}
{{- toYaml (dict
  "concurrent" .Values.concurrent
  "check_interval" .Values.checkInterval
  "listen_address" ":9252"
  "shutdown_jobs" .Values.shutdownJobs
  "shutdown_timeout" .Values.shutdownTimeout
  "log_level" .Values.logLevel
  "log_format" .Values.logFormat
  "runners" (list $runner)) -}}
{{- end -}}
