{{/* Pod template shared by the Deployment and the StatefulSet. */}}
{{- define "imagestream-bridge.podTemplate" -}}
metadata:
  labels:
    {{- include "imagestream-bridge.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "imagestream-bridge.checksums" . | nindent 4 }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "imagestream-bridge.serviceAccountName" . }}
  automountServiceAccountToken: true
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with include "imagestream-bridge.imagePullSecrets" . }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- $psc := deepCopy (.Values.podSecurityContext | default dict) }}
  {{- /* The event log volume must be writable; OpenShift's SCC assigns fsGroup, plain Kubernetes does not. */}}
  {{- if and .Values.persistence.enabled (not (hasKey $psc "fsGroup")) (not (include "imagestream-bridge.openshift" .)) }}
  {{- $_ := set $psc "fsGroup" 65532 }}
  {{- $_ := set $psc "fsGroupChangePolicy" "OnRootMismatch" }}
  {{- end }}
  {{- with $psc }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: imagestream-bridge
      image: {{ include "imagestream-bridge.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - serve
        - --config
        - {{ include "imagestream-bridge.configDir" . }}/config.yaml
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      env:
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- if and .Values.resources .Values.resources.limits .Values.resources.limits.memory }}
        # The Go runtime collects harder near the container's memory limit instead of being OOM-killed.
        - name: GOMEMLIMIT
          valueFrom:
            resourceFieldRef:
              resource: limits.memory
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.containerPort }}
          protocol: TCP
      {{- range $probe, $path := dict "startupProbe" "/healthz" "livenessProbe" "/healthz" "readinessProbe" "/readyz" }}
      {{- $p := index $.Values $probe | default dict }}
      {{- if $p.enabled }}
      {{ $probe }}:
        httpGet:
          path: {{ $path }}
          port: http
          scheme: {{ include "imagestream-bridge.scheme" $ | upper }}
        {{- omit $p "enabled" | toYaml | nindent 8 }}
      {{- end }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        # config.yaml as a single file, so that secrets/ and tls/ are not mounts nested in another volume.
        - name: config
          mountPath: {{ include "imagestream-bridge.configDir" . }}/config.yaml
          subPath: config.yaml
          readOnly: true
        - name: secrets
          mountPath: {{ include "imagestream-bridge.secretDir" . }}
          readOnly: true
        {{- if .Values.tls.enabled }}
        - name: tls
          mountPath: {{ include "imagestream-bridge.tlsDir" . }}
          readOnly: true
        {{- end }}
        {{- if include "imagestream-bridge.natsFiles" . | fromYaml }}
        - name: nats
          mountPath: {{ include "imagestream-bridge.natsDir" . }}
          readOnly: true
        {{- end }}
        {{- with include "imagestream-bridge.dataDir" . }}
        {{- if $.Values.persistence.enabled }}
        - name: data
          mountPath: {{ . }}
        {{- end }}
        {{- end }}
        {{- range $i, $c := .Values.clusters }}
        - name: kubeconfig-{{ $i }}
          mountPath: {{ include "imagestream-bridge.clusterDir" $ }}/{{ $c.name }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "imagestream-bridge.fullname" . }}
    # Every key of the Secret is a file in secrets/: the webhook tokens (REGISTRY-webhook-token), the
    # passwords (REGISTRY-password) and, with existingSecret, any other file the config names there.
    # Updates reach the files without a restart (token rotation).
    - name: secrets
      secret:
        secretName: {{ include "imagestream-bridge.secretName" . }}
    {{- if .Values.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ .Values.tls.secretName }}
        items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
    {{- end }}
    {{- with include "imagestream-bridge.natsFiles" . | fromYaml }}
    # The NATS cluster's URL, credentials and TLS files: only the keys nats.* names.
    - name: nats
      secret:
        secretName: {{ $.Values.nats.existingSecret }}
        items:
          {{- range $file, $key := . }}
          - key: {{ $key | quote }}
            path: {{ $file }}
          {{- end }}
    {{- end }}
    {{- /* One Secret per clusters entry, its kubeconfig as the file kubeconfig. */}}
    {{- range $i, $c := .Values.clusters }}
    - name: kubeconfig-{{ $i }}
      secret:
        secretName: {{ include "imagestream-bridge.kubeconfigSecretName" (list $ $c) }}
        items:
          - key: {{ include "imagestream-bridge.kubeconfigSecretKey" $c }}
            path: kubeconfig
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.affinity }}
  affinity:
    {{- toYaml .Values.affinity | nindent 4 }}
  {{- else if and (gt (int .Values.replicaCount) 1) .Values.podAntiAffinityPreset }}
  {{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "imagestream-bridge.selectorLabels" . | fromYaml)) }}
  affinity:
    podAntiAffinity:
      {{- if eq .Values.podAntiAffinityPreset "hard" }}
      requiredDuringSchedulingIgnoredDuringExecution:
        - {{ toYaml $term | nindent 10 | trim }}
      {{- else }}
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            {{- toYaml $term | nindent 12 }}
      {{- end }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml .Values.topologySpreadConstraints | nindent 4 }}
  {{- else if gt (int .Values.replicaCount) 1 }}
  # Replicas in different zones where the cluster has them (a lost zone leaves one taking webhooks).
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "imagestream-bridge.selectorLabels" . | nindent 10 }}
  {{- end }}
{{- end }}
