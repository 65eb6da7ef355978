{{- define "llm-node-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llm-node-exporter.fullname" -}}
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

{{- define "llm-node-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-node-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "llm-node-exporter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "llm-node-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llm-node-exporter
{{- end }}

{{/* pods get/list/watch: --engine.kubernetes, --attribution.pods (or rbac.create). */}}
{{- define "llm-node-exporter.rbacPods" -}}
{{- $a := .Values.flags.attribution }}
{{- if or .Values.rbac.create .Values.flags.engine.kubernetes (and $a.enabled $a.pods) }}true{{ end }}
{{- end }}

{{/* resourceslices list/watch: --attribution.dra. */}}
{{- define "llm-node-exporter.rbacResourceSlices" -}}
{{- $a := .Values.flags.attribution }}
{{- if and $a.enabled $a.dra }}true{{ end }}
{{- end }}

{{/* The ServiceAccount needs a ClusterRole and its token when the exporter reads the API server. */}}
{{- define "llm-node-exporter.rbac" -}}
{{- if or (include "llm-node-exporter.rbacPods" .) (include "llm-node-exporter.rbacResourceSlices" .) }}true{{ end }}
{{- end }}

{{- define "llm-node-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llm-node-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* --name or --no-name for a kingpin bool flag. */}}
{{- define "llm-node-exporter.bool" -}}
{{- if .value }}--{{ .name }}{{ else }}--no-{{ .name }}{{ end }}
{{- end }}

{{/* The port of the first listen address (":9836", "0.0.0.0:9836", "[::]:9836"). */}}
{{- define "llm-node-exporter.port" -}}
{{- $addr := first .Values.flags.web.listenAddress | toString }}
{{- regexReplaceAll "^.*:" $addr "" }}
{{- end }}

{{/* Every flag of the binary, in `llm-node-exporter --help` order. */}}
{{- define "llm-node-exporter.args" -}}
{{- $f := .Values.flags }}
{{- range $f.web.listenAddress }}
- {{ printf "--web.listen-address=%v" (.) | quote }}
{{- end }}
- {{ printf "--web.telemetry-path=%v" ($f.web.telemetryPath) | quote }}
- {{ printf "--web.config.file=%v" ($f.web.configFile) | quote }}
- {{ include "llm-node-exporter.bool" (dict "name" "web.systemd-socket" "value" $f.web.systemdSocket) }}
- {{ include "llm-node-exporter.bool" (dict "name" "web.disable-exporter-metrics" "value" $f.web.disableExporterMetrics) }}
- {{ printf "--web.max-requests=%v" (int64 $f.web.maxRequests) | quote }}
- {{ printf "--web.scrape-timeout=%v" ($f.web.scrapeTimeout) | quote }}
- {{ printf "--web.scrape-timeout-offset=%v" ($f.web.scrapeTimeoutOffset) | quote }}
- {{ printf "--web.read-timeout=%v" ($f.web.readTimeout) | quote }}
- {{ printf "--web.write-timeout=%v" ($f.web.writeTimeout) | quote }}
- {{ printf "--web.idle-timeout=%v" ($f.web.idleTimeout) | quote }}
- {{ printf "--web.max-auth-attempts=%v" (int64 $f.web.maxAuthAttempts) | quote }}
- "--path.sysfs=/host/sys"
- "--path.procfs=/host/proc"
- {{ printf "--path.rootfs=%v" ($f.path.rootfs) | quote }}
- {{ printf "--log.level=%v" ($f.log.level) | quote }}
- {{ printf "--log.format=%v" ($f.log.format) | quote }}
- {{ include "llm-node-exporter.bool" (dict "name" "collector.gpu" "value" $f.collector.gpu.enabled) }}
- {{ printf "--collector.gpu.nvml-library=%v" ($f.collector.gpu.nvmlLibrary) | quote }}
- {{ include "llm-node-exporter.bool" (dict "name" "collector.gpu.pcie-throughput" "value" $f.collector.gpu.pcieThroughput) }}
- {{ include "llm-node-exporter.bool" (dict "name" "collector.gpu.xid-events" "value" $f.collector.gpu.xidEvents) }}
- {{ include "llm-node-exporter.bool" (dict "name" "collector.gpu.gpm" "value" $f.collector.gpu.gpm) }}
- {{ printf "--collector.gpu.gpm-interval=%v" ($f.collector.gpu.gpmInterval) | quote }}
- {{ include "llm-node-exporter.bool" (dict "name" "collector.gpu.gpm-nvlink-per-link" "value" $f.collector.gpu.gpmNvlinkPerLink) }}
- {{ include "llm-node-exporter.bool" (dict "name" "collector.infiniband" "value" $f.collector.infiniband.enabled) }}
- {{ printf "--collector.infiniband.device-include=%v" ($f.collector.infiniband.deviceInclude) | quote }}
- {{ printf "--collector.infiniband.device-exclude=%v" ($f.collector.infiniband.deviceExclude) | quote }}
- {{ printf "--collector.infiniband.read-timeout=%v" ($f.collector.infiniband.readTimeout) | quote }}
- {{ include "llm-node-exporter.bool" (dict "name" "attribution" "value" $f.attribution.enabled) }}
- {{ include "llm-node-exporter.bool" (dict "name" "attribution.kubelet" "value" $f.attribution.kubelet) }}
- {{ printf "--attribution.kubelet-socket=/var/lib/kubelet/pod-resources/%s" .Values.hostPaths.podResourcesSocket | quote }}
- {{ printf "--attribution.refresh-interval=%v" ($f.attribution.refreshInterval) | quote }}
- {{ printf "--attribution.proc-timeout=%v" ($f.attribution.procTimeout) | quote }}
{{- range $f.attribution.gpuResourcePrefix }}
- {{ printf "--attribution.gpu-resource-prefix=%v" (.) | quote }}
{{- end }}
- {{ include "llm-node-exporter.bool" (dict "name" "attribution.pods" "value" $f.attribution.pods) }}
- {{ include "llm-node-exporter.bool" (dict "name" "attribution.dra" "value" $f.attribution.dra) }}
{{- range $f.attribution.draDriver }}
- {{ printf "--attribution.dra-driver=%v" (.) | quote }}
{{- end }}
- {{ include "llm-node-exporter.bool" (dict "name" "attribution.engine-targets" "value" $f.attribution.engineTargets) }}
- {{ include "llm-node-exporter.bool" (dict "name" "attribution.label.pod-uid" "value" $f.attribution.label.podUid) }}
- {{ include "llm-node-exporter.bool" (dict "name" "attribution.label.claim" "value" $f.attribution.label.claim) }}
- {{ include "llm-node-exporter.bool" (dict "name" "collector.engine" "value" $f.collector.engine.enabled) }}
{{- $e := $f.engine }}
{{- if or $e.targets $e.targetsFile $e.kubernetes }}
{{- range $e.targets }}
- {{ printf "--engine.target=%v" (.) | quote }}
{{- end }}
- {{ printf "--engine.targets-file=%v" ($e.targetsFile) | quote }}
- {{ printf "--engine.targets-file.refresh-interval=%v" ($e.targetsFileRefreshInterval) | quote }}
- {{ printf "--engine.timeout=%v" ($e.timeout) | quote }}
- {{ printf "--engine.body-limit=%v" ($e.bodyLimit) | quote }}
- {{ printf "--engine.sample-limit=%v" (int64 $e.sampleLimit) | quote }}
- {{ printf "--engine.label-limit=%v" (int64 $e.labelLimit) | quote }}
- {{ printf "--engine.label-name-length-limit=%v" (int64 $e.labelNameLengthLimit) | quote }}
- {{ printf "--engine.label-value-length-limit=%v" (int64 $e.labelValueLengthLimit) | quote }}
- {{ printf "--engine.lora-adapter-limit=%v" (int64 $e.loraAdapterLimit) | quote }}
- {{ include "llm-node-exporter.bool" (dict "name" "engine.passthrough" "value" $e.passthrough) }}
- {{ include "llm-node-exporter.bool" (dict "name" "engine.kubernetes" "value" $e.kubernetes) }}
{{- /* Empty: the binary reads NODE_NAME, set from the downward API below. */}}
{{- with $e.nodeName }}
- {{ printf "--engine.node-name=%v" . | quote }}
{{- end }}
{{- with $e.kubeconfig }}
- {{ printf "--engine.kubeconfig=%v" . | quote }}
{{- end }}
{{- end }}
{{- $rw := $f.remoteWrite }}
{{- if or $rw.urls $rw.configFile }}
{{- range $rw.urls }}
- {{ printf "--remote-write.url=%v" . | quote }}
{{- end }}
{{- with $rw.configFile }}
- {{ printf "--remote-write.config-file=%v" . | quote }}
{{- end }}
- {{ printf "--remote-write.interval=%v" $rw.interval | quote }}
{{- range $rw.externalLabels }}
- {{ printf "--remote-write.external-label=%v" . | quote }}
{{- end }}
- {{ printf "--remote-write.job=%v" $rw.job | quote }}
- {{ printf "--remote-write.instance=%v" $rw.instance | quote }}
- {{ printf "--remote-write.buffer-samples=%v" (int64 $rw.bufferSamples) | quote }}
- {{ printf "--remote-write.buffer-age=%v" $rw.bufferAge | quote }}
- {{ printf "--remote-write.max-samples-per-send=%v" (int64 $rw.maxSamplesPerSend) | quote }}
- {{ printf "--remote-write.max-bytes-per-send=%v" $rw.maxBytesPerSend | quote }}
- {{ printf "--remote-write.flush-timeout=%v" $rw.flushTimeout | quote }}
{{- with $rw.walDir }}
- {{ printf "--remote-write.wal-dir=%v" . | quote }}
- {{ printf "--remote-write.wal-max-bytes=%v" $rw.walMaxBytes | quote }}
{{- end }}
{{- with $rw.basicAuth.username }}
- {{ printf "--remote-write.basic-auth.username=%v" . | quote }}
{{- end }}
{{- with $rw.basicAuth.passwordFile }}
- {{ printf "--remote-write.basic-auth.password-file=%v" . | quote }}
{{- end }}
{{- with $rw.basicAuth.passwordEnv }}
- {{ printf "--remote-write.basic-auth.password-env=%v" . | quote }}
{{- end }}
{{- with $rw.bearerTokenFile }}
- {{ printf "--remote-write.bearer-token-file=%v" . | quote }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
