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
