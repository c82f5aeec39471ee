"""Private files: every stored file is served through here, after an access check.

Stored files are private by default: item images (anyone who may see the item, i.e. a
member of its project), label exports (people who may manage the project's data), and
product reference cut-outs (any logged-in member of some project; the catalog is shared).
Anything else under the storage root (model artifacts, scratch files) is never served.

The check is a lookup of the exact stored name in the rows that own it, so a name that is
not a row's file (``..``, a guessed path) is simply not found. A denied or unknown file
answers 404 alike, so outsiders learn nothing of what exists.

In production the app still decides, and the web server sends the bytes: with
``MEDIA_ACCEL_REDIRECT`` set (for example ``/_protected/``, an ``internal`` nginx location
aliased to the storage root) the answer is an empty response with ``X-Accel-Redirect``.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from jdreview.access import projects_for
from jdreview.models import Product
from jdreview.roles import PERM_DATA, has_perm, is_admin
from labeling.models import Item
from workers.models import Job


def _may_read(user: User | AnonymousUser, name: str) -> bool:
    if not user.is_authenticated:
        return False
    top = name.split("/", 1)[0]
    if top == "items":
        return Item.objects.filter(image=name, project__in=projects_for(user)).exists()
    if top == "exports":
        return (
            has_perm(user, PERM_DATA)
            and Job.objects.filter(
                kind="export", artifacts__file=name, project__in=projects_for(user)
            ).exists()
        )
    if top == "cutouts":
        member = is_admin(user) or projects_for(user).exists()
        return member and Product.objects.filter(cutout=name).exists()
    return False


@require_safe
def media_file(request: HttpRequest, path: str) -> HttpResponseBase:
    if not _may_read(request.user, path):
        raise Http404("no such file")
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    attachment = path.startswith("exports/")
    accel = settings.MEDIA_ACCEL_REDIRECT
    response: HttpResponseBase
    if accel:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = accel.rstrip("/") + "/" + path
    else:
        try:
            handle = default_storage.open(path, "rb")
        except (FileNotFoundError, OSError):
            raise Http404("no such file") from None
        response = FileResponse(handle, content_type=content_type)
    if attachment:
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=Path(path).name
        )
    # Per person: a shared cache must never hand one member's file to someone else.
    response["Cache-Control"] = "private, max-age=3600"
    return response
