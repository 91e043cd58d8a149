{{/* Chart name, truncated to 63 characters. */}}
{{- define "starfarm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name. */}}
{{- define "starfarm.fullname" -}}
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

{{- define "starfarm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "starfarm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include "starfarm.selector" (list . "scheduler") */}}
{{- define "starfarm.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "starfarm.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "starfarm.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "starfarm.cudaImage" -}}
{{- printf "%s:%s" .Values.cudaImage.repository (default .Chart.AppVersion .Values.cudaImage.tag) -}}
{{- end -}}

{{- define "starfarm.secretName" -}}
{{- if .Values.secrets.create -}}
{{- include "starfarm.fullname" . -}}
{{- else -}}
{{- required "secrets.existingSecret is required when secrets.create is false" .Values.secrets.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "starfarm.l1ConfigMap" -}}
{{- default (printf "%s-l1" (include "starfarm.fullname" .)) .Values.l1.existingConfigMap -}}
{{- end -}}

{{/* One env var from the chart's Secret: include "starfarm.secretEnv" (list . "NAME" "key" optional) */}}
{{- define "starfarm.secretEnv" -}}
{{- $root := index . 0 -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "starfarm.secretName" $root }}
      key: {{ index . 2 }}
      optional: {{ index . 3 }}
{{- end -}}

{{/* The AWS_* variables object_store reads. */}}
{{- define "starfarm.s3Env" -}}
{{ include "starfarm.secretEnv" (list . "AWS_ACCESS_KEY_ID" "aws-access-key-id" true) }}
{{ include "starfarm.secretEnv" (list . "AWS_SECRET_ACCESS_KEY" "aws-secret-access-key" true) }}
{{- range $k, $v := .Values.objectStore.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "starfarm.metricsAnnotations" -}}
{{- $root := index . 0 -}}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 1 | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* A worker Deployment: include "starfarm.worker" (list . "cpu" .Values.workers.cpu image) */}}
{{- define "starfarm.worker" -}}
{{- $root := index . 0 -}}
{{- $kind := index . 1 -}}
{{- $w := index . 2 -}}
{{- $image := index . 3 -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "starfarm.fullname" $root }}-worker-{{ $kind }}
  labels:
    {{- include "starfarm.labels" $root | nindent 4 }}
    app.kubernetes.io/component: worker-{{ $kind }}
spec:
  replicas: {{ $w.replicas }}
  selector:
    matchLabels:
      {{- include "starfarm.selector" (list $root (printf "worker-%s" $kind)) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "starfarm.labels" $root | nindent 8 }}
        app.kubernetes.io/component: worker-{{ $kind }}
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if and (eq $kind "gpu") $w.runtimeClassName }}
      runtimeClassName: {{ $w.runtimeClassName }}
      {{- end }}
      # SIGTERM drains: the current job may finish within --drain-timeout-secs.
      terminationGracePeriodSeconds: {{ add $w.drainTimeoutSecs 30 }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: worker
          image: {{ $image }}
          imagePullPolicy: {{ ternary $root.Values.cudaImage.pullPolicy $root.Values.image.pullPolicy (eq $kind "gpu") }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          args:
            - worker
            - --url
            - http://{{ include "starfarm.fullname" $root }}-scheduler:{{ $root.Values.scheduler.port }}
            - --memory-gib
            - {{ $w.memoryGib | quote }}
            - --backend
            - {{ $w.backend | default "auto" | quote }}
            - --batch-size
            - {{ $w.batchSize | quote }}
            - --lease-secs
            - {{ $w.leaseSecs | quote }}
            - --drain-timeout-secs
            - {{ $w.drainTimeoutSecs | quote }}
            {{- if $w.kinds }}
            - --kinds
            - {{ join "," $w.kinds | quote }}
            {{- end }}
            {{- range $w.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          env:
            {{- include "starfarm.secretEnv" (list $root "STARFARM_API_KEY" "worker-api-key" false) | nindent 12 }}
            - name: RUST_LOG
              value: {{ $root.Values.logLevel | quote }}
          resources:
            {{- $res := deepCopy (default dict $w.resources) }}
            {{- if eq $kind "gpu" }}
            {{- $limits := merge (default dict $res.limits) (dict "nvidia.com/gpu" $w.gpus) }}
            {{- $_ := set $res "limits" $limits }}
            {{- end }}
            {{- toYaml $res | nindent 12 }}
      {{- with $w.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
