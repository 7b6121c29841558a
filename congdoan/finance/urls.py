from django.urls import path

from congdoan.finance import views

app_name = "finance"
urlpatterns = [
    path("", views.home, name="home"),
    path("rules/", views.rule_list, name="rule_list"),
    path("declarations/", views.declaration_list, name="declaration_list"),
    path("declarations/import/", views.declaration_import, name="declaration_import"),
    path("reliefs/", views.relief_list, name="relief_list"),
    path("collection-accounts/", views.collection_accounts, name="collection_accounts"),
    path("notice/<int:employer>/", views.notice, name="notice"),
    path("units/<int:unit>/journal/", views.journal, name="journal"),
    path("units/<int:unit>/journal/<int:transaction>/receipts/", views.transaction_receipts, name="transaction_receipts"),
    path("units/<int:unit>/balances/", views.balances, name="balances"),
    path("units/<int:unit>/periods/", views.periods, name="periods"),
    path("members/", views.member_list, name="member_list"),
    path("members/<int:member>/", views.member_dues, name="member_dues"),
    path("exemptions/<int:exemption>/end/", views.dues_exemption_end, name="dues_exemption_end"),
    path("salaries/import/", views.salary_import, name="salary_import"),
    path("me/", views.my_dues, name="my_dues"),
    path("me/receipts/<int:receipt>/pdf/", views.my_receipt_pdf, name="my_receipt_pdf"),
]
