{{- define "thp-fleet.labels" -}}
app.kubernetes.io/name: thp-fleet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "thp-fleet.databaseUrl" -}}
{{- if .Values.postgres.url -}}{{ .Values.postgres.url }}{{- else -}}postgres://postgres@{{ .Release.Name }}-postgres:5432/thp{{- end -}}
{{- end -}}
