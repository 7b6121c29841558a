from django.urls import path

from congdoan.finance_reports import views

app_name = "finance_reports"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("employers/", views.employers, name="employers"),
    path("receipts/", views.receipts, name="receipts"),
    path("revenue/", views.revenue, name="revenue"),
    path("remittances/", views.remittances, name="remittances"),
    path("reminders/", views.reminders, name="reminders"),
    path("reminders/jobs/<int:job>/", views.reminder_job, name="reminder_job"),
    path("reminders/<int:employer>/pdf/", views.reminder_pdf, name="reminder_pdf"),
    path("contacts/<int:employer>/", views.contact_edit, name="contact_edit"),
]
