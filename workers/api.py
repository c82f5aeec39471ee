from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jdreview.access import project_for, projects_for, require_perm
from jdreview.api import ERRORS
from jdreview.roles import PERM_MODELS
from workers import services
from workers.models import Job
from workers.params import ParamError
from workers.serializers import JobIn, JobOut


class JobDetailView(APIView):
    @extend_schema(responses={200: JobOut, **ERRORS})
    def get(self, request: Request, job_id: int) -> Response:
        require_perm(request.user, PERM_MODELS)
        job = Job.objects.filter(pk=job_id, project__in=projects_for(request.user)).first()
        if job is None:
            raise Http404("no such job")
        return Response(JobOut(job).data)


class ProjectJobsView(APIView):
    @extend_schema(responses={200: JobOut(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_MODELS)
        return Response(JobOut(project.jobs.all()[:100], many=True).data)

    @extend_schema(request=JobIn, responses={201: JobOut, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_MODELS)
        data = JobIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = services.job_start(
                project=project,
                kind=data.validated_data["kind"],
                params=data.validated_data["params"],
                user=request.user,
            )
        except ParamError as exc:
            raise serializers.ValidationError({"params": str(exc)}) from None
        return Response(JobOut(job).data, status=status.HTTP_201_CREATED)
