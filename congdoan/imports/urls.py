from django.urls import path

from congdoan.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.import_start, name="import_start"),
    path("template.xlsx", views.import_template, name="import_template"),
    path("<int:pk>/", views.import_job_detail, name="import_job"),
    path("<int:pk>/confirm/", views.import_job_confirm, name="import_confirm"),
    path("export/", views.member_export, name="member_export"),
    path("exports/<int:pk>/", views.export_job_detail, name="export_job"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
]
