"""Order screens: the list, an order's page with its refund form, the file imports (upload, a
job's page) and the attribution policy. Views translate: the services check and write."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from loyalty.orders import import_jobs, imports, queries, services
from loyalty.orders.filters import OrderFilterSet
from loyalty.orders.forms import AttributionPolicyForm, OrderImportForm, RefundForm
from loyalty.orders.models import AttributionPolicy, Order, OrderImportJob
from scrm.dashboard import ScopedDetailView, ScopedListView, scoped_view
from scrm.errors import InvalidInput, ServiceError
from scrm.scoping import get_visible_or_404


class OrderListView(ScopedListView):
    queryset = Order.objects.select_related("store", "member", "staff")
    filterset_class = OrderFilterSet
    template_name = "orders/order_list.html"
    partial_template_name = "orders/_order_rows.html"


class OrderDetailView(ScopedDetailView):
    queryset = queries.order_detail(Order.objects.all())
    template_name = "orders/order_detail.html"
    context_object_name = "order"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if services.can_refund(self.request.user) and self.object.net_amount > 0:
            context.setdefault("refund_form", RefundForm(order=self.object))
        return context


@scoped_view(pk=Order)
@require_POST
def refund_order(request, pk):
    if not services.can_refund(request.user):
        raise PermissionDenied
    order = get_visible_or_404(queries.order_detail(Order.objects.all()), request.user, pk=pk)
    form = RefundForm(request.POST, order=order)
    if form.is_valid():
        data = form.cleaned_data
        try:
            _refund, created = services.record_refund(
                order=order,
                external_id=data["external_id"],
                amount=data["amount"],
                line=data["line"],
                reason=data["reason"],
                actor=request.user,
            )
        except ServiceError as exc:
            for name, problems in exc.details.items():
                for problem in problems if isinstance(problems, list) else [problems]:
                    form.add_error(name if name in form.fields else None, str(problem))
            if not exc.details:
                form.add_error(None, exc.message)
        else:
            if created:
                messages.success(request, _("Refund recorded."))
            else:
                messages.info(request, _("This refund number was already recorded; nothing changed."))
            return redirect("order-detail", pk=order.pk)
    return render(
        request, OrderDetailView.template_name, {"order": order, "object": order, "refund_form": form}, status=400
    )


UPLOAD_SLACK = 64 * 1024  # multipart overhead around the file itself


@scoped_view
@require_http_methods(["GET", "POST"])
def import_orders(request):
    """Upload a file (it becomes a job, run at once when small, by a worker otherwise) and see the
    recent imports of the user's scope."""
    if not services.can_import_orders(request.user):
        raise PermissionDenied
    status = 200
    form = OrderImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if int(request.META.get("CONTENT_LENGTH") or 0) > imports.MAX_BYTES + UPLOAD_SLACK:
            form = OrderImportForm()
            form.add_error(None, _("The file is larger than %(mb)d MB; split it or use the API.")
                           % {"mb": imports.MAX_BYTES >> 20})
            status = 413
        elif form.is_valid():
            try:
                job = import_jobs.create_job(actor=request.user, upload=form.cleaned_data["file"],
                                             mode=form.cleaned_data["mode"],
                                             encoding=form.cleaned_data.get("encoding") or None)
            except InvalidInput as exc:
                for name, problems in exc.details.items():
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, str(problem))
            else:
                import_jobs.start_job(job=job)
                return redirect("order-import-job", pk=job.pk)
        if status == 200:
            status = 400
    jobs = OrderImportJob.objects.visible_to(request.user).select_related("created_by", "store").defer("errors")
    return render(
        request,
        "orders/import.html",
        {"form": form, "jobs": jobs[:20], "columns": imports.COLUMNS, "max_bytes": imports.MAX_BYTES},
        status=status,
    )


@scoped_view(pk=OrderImportJob)
def import_job(request, pk):
    """One import: its status, progress, counts and first errors; polls itself (htmx) while it runs."""
    if not services.can_import_orders(request.user):
        raise PermissionDenied
    job = get_visible_or_404(OrderImportJob.objects.select_related("created_by", "store"), request.user, pk=pk)
    partial = getattr(request, "htmx", False) and not request.htmx.boosted
    commit_job = OrderImportJob.objects.filter(commit_of=job).first()
    return render(request, "orders/_import_job.html" if partial else "orders/import_job.html",
                  {"job": job, "commit_job": commit_job})


@scoped_view(pk=OrderImportJob)
@require_POST
def commit_import(request, pk):
    """"Import these orders" on a dry run's page: the same stored file, once."""
    if not services.can_import_orders(request.user):
        raise PermissionDenied
    dry_run = get_visible_or_404(OrderImportJob, request.user, pk=pk)
    job, created = import_jobs.commit_dry_run(actor=request.user, job=dry_run)
    if created:
        import_jobs.start_job(job=job)
    else:
        messages.info(request, _("This dry run was already imported; here is that import."))
    return redirect("order-import-job", pk=job.pk)


@scoped_view
def import_template(request):
    if not services.can_import_orders(request.user):
        raise PermissionDenied
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="orders-template.csv"'
    response.write("\ufeff")
    csv.writer(response).writerows(imports.template_rows())
    return response


@scoped_view
@require_http_methods(["GET", "POST"])
def attribution_policy(request):
    if not services.can_manage_attribution(request.user):
        raise PermissionDenied
    policy = AttributionPolicy.current()
    form = AttributionPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_attribution_policy(
                rule=form.cleaned_data["rule"], window_days=form.cleaned_data["window_days"], actor=request.user
            )
        except ServiceError as exc:
            for name, problems in exc.details.items():
                form.add_error(name if name in form.fields else None, problems)
        else:
            messages.success(request, _("Attribution policy saved; it applies to orders recorded from now on."))
            return redirect("order-attribution")
    return render(
        request, "orders/attribution.html", {"form": form, "policy": policy}, status=400 if form.errors else 200
    )
