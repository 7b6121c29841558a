from django.urls import path

from congdoan.payments import views

app_name = "payments"
urlpatterns = [
    path("", views.statement_list, name="statement_list"),
    path("statements/<int:job>/", views.statement_detail, name="statement_detail"),
    path("queue/", views.queue, name="queue"),
    path("lines/<int:line>/", views.line_detail, name="line_detail"),
    path("accounts/", views.account_list, name="account_list"),
    path("layouts/", views.layout_list, name="layout_list"),
    path("receipts/", views.receipt_list, name="receipt_list"),
    path("receipts/new/", views.receipt_create, name="receipt_create"),
    path("receipts/<int:receipt>/", views.receipt_detail, name="receipt_detail"),
    path("receipts/<int:receipt>/pdf/", views.receipt_pdf, name="receipt_pdf"),
    path("arrears/", views.arrears, name="arrears"),
    path("arrears/<int:employer>/", views.arrears_employer, name="arrears_employer"),
    path("received/", views.received, name="received"),
]
