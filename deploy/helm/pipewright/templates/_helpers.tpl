{{- define "pipewright.labels" -}}
app.kubernetes.io/name: pipewright-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "pipewright.selector" -}}
app.kubernetes.io/name: pipewright-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* A resources map as the operator's --worker-resources flag takes it: requests.cpu=50m,... */}}
{{- define "pipewright.resourceList" -}}
{{- $items := list -}}
{{- $resources := . | default dict -}}
{{- range $section := list "requests" "limits" -}}
{{- range $name, $quantity := (index $resources $section | default dict) -}}
{{- $items = append $items (printf "%s.%s=%v" $section $name $quantity) -}}
{{- end -}}
{{- end -}}
{{- join "," $items -}}
{{- end -}}
