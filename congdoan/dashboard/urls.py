from django.urls import path

from congdoan.dashboard import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
]
