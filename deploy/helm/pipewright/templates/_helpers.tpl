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

{{/* The operator's rules: exactly the kinds it reads and the children it writes. Used by the
     ClusterRole (every namespace) or by a Role in each of watchNamespaces. */}}
{{- define "pipewright.operatorRules" -}}
  # The resources it owns: read, add or remove its finalizer, write status.
  - apiGroups: [pipewright.io]
    resources: [pipelines, weightedservices]
    verbs: [get, list, watch, patch]
  - apiGroups: [pipewright.io]
    resources: [pipelines/status, weightedservices/status]
    verbs: [patch]
  # ownerReferences with blockOwnerDeletion need update on the owner's finalizers.
  - apiGroups: [pipewright.io]
    resources: [pipelines/finalizers, weightedservices/finalizers]
    verbs: [update]
  # The children it creates (server-side apply), keeps as declared and deletes when no longer
  # named.
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, list, watch, create, patch, delete]
  - apiGroups: [""]
    resources: [services, configmaps, persistentvolumeclaims]
    verbs: [get, list, watch, create, patch, delete]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses, networkpolicies]
    verbs: [get, list, watch, create, patch, delete]
  - apiGroups: [gateway.networking.k8s.io]
    resources: [httproutes]
    verbs: [get, list, watch, create, patch, delete]
  # A Pipeline's spec.kafka.secretRef: the operator's own Kafka admin client needs the same SASL
  # or TLS settings as the workers to create topics. `get` by name only: no list or watch, so it
  # never sees a Secret no Pipeline names. Cluster-wide because Pipelines live in any namespace;
  # with watchNamespaces set it is a Role in each of them (the workers read theirs from a
  # mounted volume, not through the API).
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get]
  # What it tells people (kubectl describe): children created, readiness changes.
  - apiGroups: [""]
    resources: [events]
    verbs: [create]
{{- end -}}
