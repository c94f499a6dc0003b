"""Views for the Django example: a signup that is worth a push, and a view that crashes."""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

log = logging.getLogger("shop")


def signup(request: HttpRequest) -> HttpResponse:
    plan = request.GET.get("plan", "free")
    # extra= keys: reserved ones (channel, tags, link...) are event fields, the rest is metadata
    log.warning("New signup", extra={"plan": plan, "channel": "signups"})
    return JsonResponse({"ok": True})


def checkout(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("payment gateway timed out")  # django.request logs it at ERROR: a push


urlpatterns = [path("signup", signup), path("checkout", checkout)]
