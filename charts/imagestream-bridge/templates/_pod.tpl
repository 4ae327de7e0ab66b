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
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
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
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
          scheme: {{ include "imagestream-bridge.scheme" . | upper }}
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
          scheme: {{ include "imagestream-bridge.scheme" . | upper }}
        {{- toYaml .Values.readinessProbe | nindent 8 }}
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
        {{- with include "imagestream-bridge.dataDir" . }}
        {{- if $.Values.persistence.enabled }}
        - name: data
          mountPath: {{ . }}
        {{- end }}
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
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
