{{/* Names: <release>-nvmeof-gateway, or the release name when it already says it. */}}
{{- define "nvmeof.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nvmeof.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nvmeof.labels" -}}
{{ include "nvmeof.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "nvmeof.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Secret names: the user's existing Secret or the chart's. */}}
{{- define "nvmeof.keyringSecret" -}}
{{- .Values.ceph.existingSecret | default (printf "%s-keyring" (include "nvmeof.fullname" .)) -}}
{{- end -}}
{{/* The mTLS Secret is mounted for the gRPC port's mTLS and for the exporter's HTTPS. */}}
{{- define "nvmeof.mtlsMounted" -}}
{{- if or .Values.mtls.enabled .Values.metrics.https.enabled }}true{{ end -}}
{{- end -}}

{{- define "nvmeof.mtlsSecret" -}}
{{- .Values.mtls.existingSecret | default (printf "%s-mtls" (include "nvmeof.fullname" .)) -}}
{{- end -}}
{{- define "nvmeof.hostKeysSecret" -}}
{{- .Values.hostKeys.existingSecret | default (printf "%s-host-keys" (include "nvmeof.fullname" .)) -}}
{{- end -}}
{{- define "nvmeof.cephConfigMap" -}}
{{- .Values.ceph.existingConfigMap | default (printf "%s-ceph" (include "nvmeof.fullname" .)) -}}
{{- end -}}

{{/* data-plane shutdown_timeout as the daemon will read it (default 10). */}}
{{- define "nvmeof.shutdownTimeout" -}}
{{- $dp := index .Values.config "data-plane" | default dict -}}
{{- index $dp "shutdown_timeout" | default 10 | int -}}
{{- end -}}

{{/*
The configuration file (docs/operations.md), configparser syntax: the keys derived from the
values, then .Values.config over them, each section and key written once. Whole numbers
are printed as integers (Helm reads YAML numbers as float64: 1000000 would print 1e+06).
*/}}
{{- define "nvmeof.configFile" -}}
{{- $derived := dict
  "gateway" (dict
    "group" .Values.group
    "addr" "0.0.0.0"
    "port" .Values.ports.grpc
    "enable_auth" .Values.mtls.enabled
    "enable_prometheus_exporter" true
    "prometheus_port" .Values.ports.metrics
    "prometheus_exporter_ssl" .Values.metrics.https.enabled
    "ha" .Values.ha.mode
    "ha_lease_ms" .Values.ha.leaseMs
    "ha_failback_delay_ms" .Values.ha.failbackDelayMs)
  "discovery" (dict "addr" "0.0.0.0" "port" .Values.ports.discovery)
  "ceph" (dict "pool" .Values.ceph.pool "config_file" "/etc/ceph/ceph.conf" "id" .Values.ceph.id)
  "mtls" (dict
    "server_key" "/etc/nvmeof-gateway/mtls/server.key"
    "server_cert" "/etc/nvmeof-gateway/mtls/server.crt"
    "client_cert" "/etc/nvmeof-gateway/mtls/client.crt")
-}}
{{- if .Values.mtls.rootCaCert -}}
{{- $_ := set $derived.mtls "root_ca_cert" "/etc/nvmeof-gateway/mtls/root-ca.crt" -}}
{{- end -}}
{{- if .Values.hostKeys.encryptionKey -}}
{{- $_ := set $derived.gateway "encryption_key" "/encryption.key" -}}
{{- end -}}
{{- $cfg := mergeOverwrite $derived (deepCopy .Values.config) -}}
# Rendered by the nvmeof-gateway chart from its values (release {{ .Release.Name }}).
# The pod's command line adds --name <pod name> --hostname <node name>.
{{- range $section, $keys := $cfg }}

[{{ $section }}]
{{- range $key, $value := $keys }}
{{- if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}
{{ $key }} = {{ int64 $value }}
{{- else }}
{{ $key }} = {{ $value }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Refuses values the gateway could not run with. */}}
{{- define "nvmeof.checks" -}}
{{- $grace := int .Values.terminationGracePeriodSeconds -}}
{{- $need := add (include "nvmeof.shutdownTimeout" . | int) 20 -}}
{{- if lt $grace $need -}}
{{- fail (printf "terminationGracePeriodSeconds %d is shorter than the hand-over (10 s) plus data-plane shutdown_timeout plus 10 s: use at least %d" $grace $need) -}}
{{- end -}}
{{- if and (not .Values.ceph.existingSecret) (not .Values.ceph.keyring) -}}
{{- fail "ceph.keyring (the keyring text) or ceph.existingSecret (a Secret with key \"keyring\") is required" -}}
{{- end -}}
{{- if and (not .Values.ceph.existingConfigMap) (not .Values.ceph.conf) -}}
{{- fail "ceph.conf (ceph.conf text) or ceph.existingConfigMap (a ConfigMap with key \"ceph.conf\") is required" -}}
{{- end -}}
{{- if and .Values.mtls.enabled (not .Values.mtls.existingSecret) (not (and .Values.mtls.serverKey .Values.mtls.serverCert .Values.mtls.clientCert)) -}}
{{- fail "mtls.enabled needs mtls.existingSecret or mtls.serverKey, serverCert and clientCert" -}}
{{- end -}}
{{- if and .Values.metrics.https.enabled (not .Values.mtls.existingSecret) (not (and .Values.mtls.serverKey .Values.mtls.serverCert)) -}}
{{- fail "metrics.https.enabled needs mtls.existingSecret or mtls.serverKey and serverCert (the exporter's certificate)" -}}
{{- end -}}
{{- end -}}
