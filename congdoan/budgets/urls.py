from django.urls import path

from congdoan.budgets import views

app_name = "budgets"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("export.xlsx", views.export, name="export"),
    path("plans/", views.budget_list, name="budget_list"),
    path("plans/<int:budget>/", views.budget_detail, name="budget_detail"),
    path("plans/<int:budget>/approve/", views.budget_approve, name="budget_approve"),
    path("plans/<int:budget>/revise/", views.budget_revise, name="budget_revise"),
    path("expenses/", views.expense_list, name="expense_list"),
    path("expenses/new/", views.expense_create, name="expense_create"),
    path("expenses/<int:expense>/", views.expense_detail, name="expense_detail"),
    path("expenses/<int:expense>/approve/", views.expense_approve, name="expense_approve"),
    path("expenses/<int:expense>/cancel/", views.expense_cancel, name="expense_cancel"),
    path("expenses/<int:expense>/document/", views.expense_document, name="expense_document"),
    path("disclosure/", views.disclosure, name="disclosure"),
]
