from django.urls import path

from congdoan.members import views

app_name = "members"
urlpatterns = [
    path("", views.member_list, name="member_list"),
    path("new/", views.member_admit, name="member_admit"),
    path("<int:pk>/", views.member_detail, name="member_detail"),
    path("<int:pk>/edit/", views.member_edit, name="member_edit"),
    path("<int:pk>/transfer/", views.member_transfer, name="member_transfer"),
    path("<int:pk>/status/", views.member_status, name="member_status"),
    path("<int:pk>/account/", views.member_account, name="member_account"),
    path("transfers/", views.transfer_list, name="transfer_list"),
    path("transfers/<int:pk>/<str:decision>/", views.transfer_decide, name="transfer_decide"),
    path("me/", views.me, name="me"),
    path("me/card/", views.me_card, name="me_card"),
    path("card/<str:token>/", views.card_verify, name="card_verify"),
]
