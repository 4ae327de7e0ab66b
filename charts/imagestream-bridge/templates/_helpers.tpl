{{/* Chart name. */}}
{{- define "imagestream-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: RELEASE-NAME, or RELEASE when it already contains the chart name. */}}
{{- define "imagestream-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "imagestream-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "imagestream-bridge.labels" -}}
helm.sh/chart: {{ include "imagestream-bridge.chart" . }}
{{ include "imagestream-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: webhook
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* metadata.annotations of an object: commonAnnotations plus the object's own (list ROOT ANNOTATIONS). */}}
{{- define "imagestream-bridge.annotations" -}}
{{- $root := index . 0 }}
{{- $all := merge (dict) (index . 1 | default dict) ($root.Values.commonAnnotations | default dict) }}
{{- with $all }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "imagestream-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "imagestream-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "imagestream-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "imagestream-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Pull secrets: imagePullSecrets, then a parent chart's global.imagePullSecrets. */}}
{{- define "imagestream-bridge.imagePullSecrets" -}}
{{- $all := concat (.Values.imagePullSecrets | default list) ((.Values.global).imagePullSecrets | default list) }}
{{- with $all }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* True on OpenShift, whose SCCs assign the pod's fsGroup. */}}
{{- define "imagestream-bridge.openshift" -}}
{{- if .Capabilities.APIVersions.Has "security.openshift.io/v1" }}true{{ end }}
{{- end }}

{{/* The webhook's external base URL (Route or Ingress host), or "". */}}
{{- define "imagestream-bridge.externalURL" -}}
{{- if and .Values.route.enabled .Values.route.host }}
{{- printf "https://%s" .Values.route.host }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $host := first .Values.ingress.hosts }}
{{- $tls := false }}
{{- range .Values.ingress.tls }}{{ if has $host .hosts }}{{ $tls = true }}{{ end }}{{ end }}
{{- printf "%s://%s" ($tls | ternary "https" "http") $host }}
{{- end }}
{{- end }}

{{- define "imagestream-bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "imagestream-bridge.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "imagestream-bridge.fullname" .)) }}
{{- end }}

{{/* Where config, secrets and TLS files appear in the container. */}}
{{- define "imagestream-bridge.configDir" -}}/etc/imagestream-bridge{{- end }}
{{- define "imagestream-bridge.secretDir" -}}/etc/imagestream-bridge/secrets{{- end }}
{{- define "imagestream-bridge.tlsDir" -}}/etc/imagestream-bridge/tls{{- end }}
{{- define "imagestream-bridge.natsDir" -}}/etc/imagestream-bridge/nats{{- end }}

{{/*
Each nats.*Key, the file it becomes under natsDir and the config.nats key that names that file.
*/}}
{{- define "imagestream-bridge.natsKeys" -}}
urlKey: {file: url, config: urlFile}
credsKey: {file: nats.creds, config: credsFile}
caKey: {file: ca.crt, config: tls.caFile}
certKey: {file: tls.crt, config: tls.certFile}
keyKey: {file: tls.key, config: tls.keyFile}
{{- end }}

{{/* The files of nats.existingSecret, as a dict file name under natsDir -> key in the Secret. */}}
{{- define "imagestream-bridge.natsFiles" -}}
{{- $n := .Values.nats | default dict }}
{{- $files := dict }}
{{- if $n.existingSecret }}
{{- range $key, $k := include "imagestream-bridge.natsKeys" . | fromYaml }}
{{- with index $n $key }}{{ $_ := set $files $k.file . }}{{ end }}
{{- end }}
{{- end }}
{{- toYaml $files }}
{{- end }}

{{/* True when the event log is an external JetStream cluster (config.nats.url or urlFile, or nats.urlKey). */}}
{{- define "imagestream-bridge.externalLog" -}}
{{- if or ((.Values.config.nats).url) ((.Values.config.nats).urlFile) (and (.Values.nats).existingSecret (.Values.nats).urlKey) }}true{{ end }}
{{- end }}

{{/* PodDisruptionBudget on: podDisruptionBudget.enabled, or when it is null, replicaCount > 1. */}}
{{- define "imagestream-bridge.pdbEnabled" -}}
{{- $e := .Values.podDisruptionBudget.enabled }}
{{- if kindIs "invalid" $e }}{{ if gt (int .Values.replicaCount) 1 }}true{{ end }}{{ else if $e }}true{{ end }}
{{- end }}

{{/* Directory of the embedded event log: config.dataDir, defaulted when persistence is on. */}}
{{- define "imagestream-bridge.dataDir" -}}
{{- if .Values.persistence.enabled }}
{{- .Values.config.dataDir | default "/var/lib/imagestream-bridge" }}
{{- else }}
{{- .Values.config.dataDir }}
{{- end }}
{{- end }}

{{- define "imagestream-bridge.leaderElection" -}}
{{- and .Values.config.leaderElection .Values.config.leaderElection.enabled | ternary "true" "" }}
{{- end }}

{{- define "imagestream-bridge.leaseName" -}}
{{- (.Values.config.leaderElection).leaseName | default (include "imagestream-bridge.fullname" .) }}
{{- end }}

{{- define "imagestream-bridge.leaseNamespace" -}}
{{- (.Values.config.leaderElection).namespace | default .Release.Namespace }}
{{- end }}

{{/* createImageStreams defaults to true, as in the bridge. */}}
{{- define "imagestream-bridge.createImageStreams" -}}
{{- $v := (.Values.config.openshift).createImageStreams }}
{{- if or (kindIs "invalid" $v) $v }}true{{ end }}
{{- end }}

{{/* Some registry deletes tags in the default cluster (deleteTags, and clusters empty or naming "default"). */}}
{{- define "imagestream-bridge.deleteTags" -}}
{{- range .Values.config.registries }}
{{- if and .deleteTags (or (not .clusters) (has "default" .clusters)) }}true{{ end }}
{{- end }}
{{- end }}

{{/* "true" when a registry caps stream tags (maxTagsPerStream) or derives roll-up tags (derivedTags) in the
default cluster: it GETs each stream it maps to (derivedTags: after each release). */}}
{{- define "imagestream-bridge.streamGet" -}}
{{- range .Values.config.registries }}
{{- $derived := default dict .derivedTags }}
{{- if and (or .maxTagsPerStream $derived.semver $derived.latest) (or (not .clusters) (has "default" .clusters)) }}true{{ end }}
{{- end }}
{{- end }}

{{/* Where the kubeconfig of cluster NAME appears in the container: CLUSTERDIR/NAME/kubeconfig. */}}
{{- define "imagestream-bridge.clusterDir" -}}/etc/imagestream-bridge/clusters{{- end }}

{{/* The Secret holding a clusters entry's kubeconfig, and its key: (list $ entry). */}}
{{- define "imagestream-bridge.kubeconfigSecretName" -}}
{{- $c := index . 1 }}
{{- if ($c.kubeconfigSecret).name }}{{ $c.kubeconfigSecret.name }}{{ else }}{{ include "imagestream-bridge.fullname" (index . 0) }}-kubeconfig-{{ $c.name }}{{ end }}
{{- end }}
{{- define "imagestream-bridge.kubeconfigSecretKey" -}}
{{- (.kubeconfigSecret).key | default "kubeconfig" }}
{{- end }}

{{- define "imagestream-bridge.createChildImages" -}}
{{- if (.Values.config.openshift).createChildImages }}true{{ end }}
{{- end }}

{{- define "imagestream-bridge.scheme" -}}
{{- .Values.tls.enabled | ternary "https" "http" }}
{{- end }}

{{/* Deployment strategy: see values.yaml. */}}
{{- define "imagestream-bridge.strategy" -}}
{{- if .Values.strategy -}}
{{ toYaml .Values.strategy }}
{{- else if and (include "imagestream-bridge.leaderElection" .) (not (include "imagestream-bridge.externalLog" .)) -}}
{{- /* Embedded log with leader election: only the leader takes webhooks, so a surge pod (a follower) would never be Ready and the rollout would wait forever. */}}
type: Recreate
{{- else -}}
type: RollingUpdate
rollingUpdate:
  maxSurge: 1
  maxUnavailable: 0
{{- end }}
{{- end }}

{{/*
Fails the render on combinations that cannot work, with a message naming the values to change.
Included by every workload template.
*/}}
{{- define "imagestream-bridge.validate" -}}
{{- $le := include "imagestream-bridge.leaderElection" . }}
{{- if and (gt (int .Values.replicaCount) 1) (not $le) }}
{{- fail (printf "replicaCount is %d, but more than one replica needs config.leaderElection.enabled=true: without it every replica would apply events" (int .Values.replicaCount)) }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "imagestream-bridge.externalLog" .)) }}
{{- fail (printf "replicaCount is %d, but more than one replica needs an external NATS JetStream cluster: set config.nats.url, or nats.existingSecret and nats.urlKey (docs/operations.md, High availability). With the embedded log each replica holds its own, so only the leader is Ready and takes webhooks: a failover refuses pushes until another replica leads, and what a crashed leader acknowledged stays in its pod" (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.persistence.enabled (gt (int .Values.replicaCount) 1) }}
{{- fail "persistence.enabled supports replicaCount=1 only: it holds the embedded event log of one replica; with more replicas the log lives in the NATS JetStream cluster and the replicas keep nothing on disk" }}
{{- end }}
{{- $n := .Values.nats | default dict }}
{{- $nc := .Values.config.nats | default dict }}
{{- $external := include "imagestream-bridge.externalLog" . }}
{{- $anyKey := false }}
{{- range $key, $k := include "imagestream-bridge.natsKeys" . | fromYaml }}
{{- if index $n $key }}
{{- $anyKey = true }}
{{- if not $n.existingSecret }}
{{- fail (printf "nats.%s needs nats.existingSecret: the key is read from that Secret" $key) }}
{{- end }}
{{- $set := index $nc $k.config }}
{{- if hasPrefix "tls." $k.config }}{{ $set = index ($nc.tls | default dict) (trimPrefix "tls." $k.config) }}{{ end }}
{{- if or $set (and (eq $key "urlKey") $nc.url) }}
{{- fail (printf "nats.%s and config.nats.%s are both set: choose one (the chart renders nats.%s as config.nats.%s)" $key (eq $key "urlKey" | ternary "url (or urlFile)" $k.config) $key $k.config) }}
{{- end }}
{{- if and (ne $key "urlKey") (not $external) }}
{{- fail (printf "nats.%s is only for an external NATS cluster: set nats.urlKey or config.nats.url too (the embedded server has no network connection, and the bridge refuses credentials or TLS without a URL)" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (gt (int ($nc.replicas | default 1)) 1) (not $external) }}
{{- fail (printf "config.nats.replicas is %d, but the embedded NATS server (no config.nats.url or nats.urlKey) holds one copy: leave it unset or 1, or set a cluster's URL" (int $nc.replicas)) }}
{{- end }}
{{- if and $n.existingSecret (not $anyKey) }}
{{- fail "nats.existingSecret is set but names no key: set nats.urlKey (and credsKey, caKey, certKey/keyKey as the cluster needs)" }}
{{- end }}
{{- if ne (not $n.certKey) (not $n.keyKey) }}
{{- fail "nats.certKey and nats.keyKey: set both (a client certificate and its key) or neither" }}
{{- end }}
{{- if contains "@" ($nc.url | default "" | toString) }}
{{- fail "config.nats.url carries credentials (user:password@ or token@), which would be stored in a ConfigMap: put the URL in a Secret and name it with nats.existingSecret and nats.urlKey, or use nats.credsKey" }}
{{- end }}
{{- $dataDir := include "imagestream-bridge.dataDir" . }}
{{- if and $dataDir (not .Values.persistence.enabled) }}
{{- $mounted := false }}
{{- range .Values.extraVolumeMounts }}
{{- if eq (.mountPath | toString | trimSuffix "/") ($dataDir | trimSuffix "/") }}{{ $mounted = true }}{{ end }}
{{- end }}
{{- if not $mounted }}
{{- fail (printf "config.dataDir is %q but persistence.enabled is false and no extraVolumeMounts entry mounts it: the root filesystem is read-only" $dataDir) }}
{{- end }}
{{- end }}
{{- if not .Values.config.registries }}
{{- fail "config.registries: at least one registry is required" }}
{{- end }}
{{- $names := dict }}
{{- range $i, $r := .Values.config.registries }}
{{- if not $r.name }}
{{- fail (printf "config.registries[%d].name is required" $i) }}
{{- end }}
{{- if hasKey $names $r.name }}
{{- fail (printf "config.registries[%d].name: duplicate registry name %q" $i $r.name) }}
{{- end }}
{{- $_ := set $names $r.name true }}
{{- range $key := list "webhookToken" "webhookTokenFile" "password" "passwordFile" }}
{{- if hasKey $r $key }}
{{- fail (printf "config.registries[%d].%s: secrets are not set in config; use webhookTokens/registryPasswords or existingSecret (mounted as files by the chart)" $i $key) }}
{{- end }}
{{- end }}
{{- if and $r.username (not $.Values.existingSecret) (not (hasKey $.Values.registryPasswords $r.name)) }}
{{- fail (printf "config.registries[%d] (%s) has a username: set registryPasswords.%s or use existingSecret" $i $r.name $r.name) }}
{{- end }}
{{- end }}
{{- $clusterNames := dict "default" true }}
{{- range $i, $c := .Values.clusters }}
{{- if eq $c.name "default" }}
{{- fail (printf "clusters[%d].name: \"default\" is the cluster of config.openshift; give this one another name" $i) }}
{{- end }}
{{- if hasKey $clusterNames $c.name }}
{{- fail (printf "clusters[%d].name: duplicate cluster name %q" $i $c.name) }}
{{- end }}
{{- $_ := set $clusterNames $c.name true }}
{{- if eq (not $c.kubeconfig) (not ($c.kubeconfigSecret).name) }}
{{- fail (printf "clusters[%d] (%s): set exactly one of kubeconfig (inline) and kubeconfigSecret.name" $i $c.name) }}
{{- end }}
{{- end }}
{{- range $i, $r := .Values.config.registries }}
{{- range $j, $n := $r.clusters }}
{{- if not (hasKey $clusterNames $n) }}
{{- fail (printf "config.registries[%d].clusters[%d]: no cluster %q: must be \"default\" (config.openshift) or the name of an entry of clusters" $i $j $n) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $name, $_ := .Values.webhookTokens }}
{{- if not (hasKey $names $name) }}
{{- fail (printf "webhookTokens.%s: no registry of that name in config.registries" $name) }}
{{- end }}
{{- end }}
{{- range $name, $_ := .Values.registryPasswords }}
{{- if not (hasKey $names $name) }}
{{- fail (printf "registryPasswords.%s: no registry of that name in config.registries" $name) }}
{{- end }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) }}
{{- fail "tls.enabled needs tls.secretName (a kubernetes.io/tls Secret)" }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.registryPeers) }}
{{- fail "networkPolicy.enabled needs networkPolicy.registryPeers: name the registry's pods, namespace or IP block, or nothing could post notifications" }}
{{- end }}
{{- if and .Values.rbac.create (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) }}
{{- fail "serviceAccount.create=false with rbac.create=true needs serviceAccount.name: the roles would otherwise be bound to the namespace's default ServiceAccount, which every pod of the namespace uses" }}
{{- end }}
{{- if and (not .Values.existingSecret) (not .Values.generateWebhookTokens) }}
{{- range .Values.config.registries }}
{{- if not (hasKey $.Values.webhookTokens .name) }}
{{- fail (printf "webhookTokens.%s is not set and generateWebhookTokens is false: set webhookTokens.%s, or existingSecret to a Secret with the key %s-webhook-token (a render without cluster access, such as helm template or Argo CD, cannot keep a generated token)" .name .name .name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled .Values.tls.enabled (not .Values.serviceMonitor.tlsConfig) .Values.serviceMonitor.namespace (ne .Values.serviceMonitor.namespace .Release.Namespace) }}
{{- fail "serviceMonitor.tlsConfig is needed with tls.enabled when serviceMonitor.namespace is not the release namespace: the default reads ca.crt of tls.secretName, which Prometheus can only read from the ServiceMonitor's namespace" }}
{{- end }}
{{- if and .Values.route.enabled .Values.ingress.enabled }}
{{- fail "route.enabled and ingress.enabled: choose one (OpenShift turns Ingresses into Routes itself)" }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and (include "imagestream-bridge.pdbEnabled" .) (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both" }}
{{- end }}
{{- end }}

{{/* The bridge's config.yaml: .Values.config plus the keys the chart owns. */}}
{{- define "imagestream-bridge.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $_ := set $cfg "listenAddress" (printf ":%d" (int .Values.containerPort)) }}
{{- $_ := set $cfg "dataDir" (include "imagestream-bridge.dataDir" .) }}
{{- if .Values.tls.enabled }}
{{- $tlsDir := include "imagestream-bridge.tlsDir" . }}
{{- $_ := set $cfg "tls" (dict "certFile" (printf "%s/tls.crt" $tlsDir) "keyFile" (printf "%s/tls.key" $tlsDir)) }}
{{- end }}
{{- if include "imagestream-bridge.natsFiles" . | fromYaml }}
{{- $natsDir := include "imagestream-bridge.natsDir" . }}
{{- $nc := $cfg.nats | default dict }}
{{- $tls := $nc.tls | default dict }}
{{- range $key, $k := include "imagestream-bridge.natsKeys" . | fromYaml }}
{{- if index $.Values.nats $key }}
{{- $path := printf "%s/%s" $natsDir $k.file }}
{{- if hasPrefix "tls." $k.config }}{{ $_ := set $tls (trimPrefix "tls." $k.config) $path }}{{ else }}{{ $_ := set $nc $k.config $path }}{{ end }}
{{- end }}
{{- end }}
{{- if $.Values.nats.urlKey }}{{ $_ := unset $nc "url" }}{{ end }}
{{- if $tls }}{{ $_ := set $nc "tls" $tls }}{{ end }}
{{- $_ := set $cfg "nats" $nc }}
{{- end }}
{{- $le := $cfg.leaderElection | default dict }}
{{- $_ := set $le "leaseName" (include "imagestream-bridge.leaseName" .) }}
{{- $_ := set $cfg "leaderElection" $le }}
{{- $secretDir := include "imagestream-bridge.secretDir" . }}
{{- $registries := list }}
{{- range $cfg.registries }}
{{- $r := deepCopy . }}
{{- $_ := set $r "webhookTokenFile" (printf "%s/%s-webhook-token" $secretDir .name) }}
{{- if .username }}
{{- $_ := set $r "passwordFile" (printf "%s/%s-password" $secretDir .name) }}
{{- end }}
{{- $registries = append $registries $r }}
{{- end }}
{{- $_ := set $cfg "registries" $registries }}
{{- $clusters := list }}
{{- range .Values.clusters }}
{{- $c := omit . "kubeconfig" "kubeconfigSecret" }}
{{- $_ := set $c "kubeconfig" (printf "%s/%s/kubeconfig" (include "imagestream-bridge.clusterDir" $) .name) }}
{{- $clusters = append $clusters $c }}
{{- end }}
{{- if $clusters }}
{{- $_ := set $cfg "clusters" $clusters }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/* Pod template annotations that roll the pods when config or secrets change. */}}
{{- define "imagestream-bridge.checksums" -}}
checksum/config: {{ include "imagestream-bridge.config" . | sha256sum }}
{{- if not .Values.existingSecret }}
{{- /* Over the values, not the rendered Secret: generated tokens are kept on upgrade and must not roll the pods. */}}
checksum/secret: {{ list .Values.webhookTokens .Values.registryPasswords | toJson | sha256sum }}
{{- end }}
{{- with .Values.clusters }}
{{- /* Inline kubeconfigs: a new one rolls the pods (a kubeconfigSecret is read at start only). */}}
checksum/clusters: {{ toJson . | sha256sum }}
{{- end }}
{{- end }}
