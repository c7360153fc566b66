"""Public pages reached from links in emails; the token in the URL is the only credential."""

from django.urls import path

from recipients import views

app_name = "recipients"

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("u/<str:token>/one-click/", views.one_click_unsubscribe, name="one_click"),
    path("u/<str:token>/preferences/", views.preferences, name="preferences"),
    path("confirm/<str:token>/", views.confirm_subscription, name="confirm"),
]
