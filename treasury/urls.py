"""Web banking routes of the treasury (included at ``/`` from ``bank/urls.py``)."""

from django.urls import path

from treasury import views

urlpatterns = [
    path("reserves/", views.reserves_page, name="reserves"),
    path("reserves/proof/", views.reserves_proof, name="reserves_proof"),
]
